"""The codec interface and the registry that picks an implementation by SDP name."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from media.codecs.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode

__all__ = ["Codec", "PcmaCodec", "PcmuCodec", "codec_names", "get_codec", "register_codec"]

Int16Array = npt.NDArray[np.int16]


class Codec(ABC):
    """An audio codec as negotiated in SDP: int16 PCM in, RTP payload bytes out.

    ``sample_rate`` is the PCM rate ``encode``/``decode`` work at and
    ``clock_rate`` the RTP timestamp rate; they differ for some codecs (G.722
    samples at 16 kHz on an 8 kHz clock, RFC 3551 §4.5.2), so code that counts
    samples must not use ``clock_rate``.  Stateful codecs keep their state on
    the instance, which is why ``get_codec`` returns a fresh one per call leg.
    """

    name: ClassVar[str]
    """Encoding name as in SDP ``a=rtpmap`` (RFC 4566 §6), upper case."""
    payload_type: ClassVar[int | None]
    """Static RTP payload type (RFC 3551 Table 4), or None if negotiated dynamically."""
    clock_rate: ClassVar[int]
    sample_rate: ClassVar[int]
    frame_ms: ClassVar[int] = 20

    @property
    def samples_per_frame(self) -> int:
        """PCM samples in one ``frame_ms`` packet (160 for G.711 at 20 ms)."""
        return self.sample_rate * self.frame_ms // 1000

    @property
    def timestamp_step(self) -> int:
        """RTP timestamp increment per ``frame_ms`` packet."""
        return self.clock_rate * self.frame_ms // 1000

    @abstractmethod
    def encode(self, pcm: Int16Array) -> bytes:
        """Encode int16 PCM at ``sample_rate`` into one RTP payload."""

    @abstractmethod
    def decode(self, payload: bytes) -> Int16Array:
        """Decode one RTP payload into a new int16 array at ``sample_rate``."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}/{self.clock_rate} pt={self.payload_type}>"


class PcmuCodec(Codec):
    """G.711 mu-law, RTP payload type 0 (RFC 3551 §4.5.14)."""

    name = "PCMU"
    payload_type = 0
    clock_rate = 8000
    sample_rate = 8000

    def encode(self, pcm: Int16Array) -> bytes:
        return ulaw_encode(pcm)

    def decode(self, payload: bytes) -> Int16Array:
        return ulaw_decode(payload)


class PcmaCodec(Codec):
    """G.711 A-law, RTP payload type 8 (RFC 3551 §4.5.14)."""

    name = "PCMA"
    payload_type = 8
    clock_rate = 8000
    sample_rate = 8000

    def encode(self, pcm: Int16Array) -> bytes:
        return alaw_encode(pcm)

    def decode(self, payload: bytes) -> Int16Array:
        return alaw_decode(payload)


_FACTORIES: dict[str, Callable[[], Codec]] = {}


def register_codec(name: str, factory: Callable[[], Codec]) -> None:
    """Make ``get_codec(name)`` return ``factory()``; names are case-insensitive.

    Raises ``ValueError`` if ``name`` is already registered: silently replacing
    a codec would change what every call negotiates.
    """
    key = name.upper()
    if key in _FACTORIES:
        raise ValueError(f"codec {key!r} is already registered")
    _FACTORIES[key] = factory


def get_codec(name: str) -> Codec:
    """A new codec instance for the SDP encoding name ``name`` (e.g. ``"pcmu"``).

    Raises ``KeyError`` naming the known codecs if ``name`` is not registered.
    """
    try:
        factory = _FACTORIES[name.upper()]
    except KeyError:
        known = ", ".join(codec_names())
        raise KeyError(f"unknown codec {name!r}; known codecs: {known}") from None
    return factory()


def codec_names() -> tuple[str, ...]:
    """Registered encoding names, sorted."""
    return tuple(sorted(_FACTORIES))


register_codec(PcmuCodec.name, PcmuCodec)
register_codec(PcmaCodec.name, PcmaCodec)
