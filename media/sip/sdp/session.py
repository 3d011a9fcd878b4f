"""SDP session descriptions (RFC 4566): the model and its serializer.

Sans-IO and pure: ``SessionDescription.parse(text)`` (see ``_parser``) builds
these frozen dataclasses; ``str()``/``bytes()`` writes them back with CRLF
line endings in the order of RFC 4566 §5.  Lines the model does not name
(``i= u= e= p= z= k=``, unknown type letters) and every attribute are kept
and written back, so a description round-trips: parsing what was written
gives an equal object.

The parser is strict about structure (``v=``/``o=``/``s=`` first, numbers that
are numbers, payload types 0-127, rtpmap/fmtp/ptime syntax) and lenient about
spacing (runs of blanks between fields, bare LF line ends, trailing blank
lines).  Anything it cannot use raises ``SdpError`` naming the line; nothing
else escapes it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from media.sip.sdp._grammar import (
    STATIC_PAYLOAD_TYPES,
    RtpMap,
    is_payload_type,
    is_rtp,
    parse_fmtp,
    parse_ms,
    parse_rtpmap,
)

__all__ = [
    "HOLD_ADDRESSES",
    "STATIC_PAYLOAD_TYPES",
    "Attribute",
    "Bandwidth",
    "Connection",
    "Direction",
    "ExtraLine",
    "MediaDescription",
    "Origin",
    "RtpMap",
    "SdpError",
    "SdpUsageError",
    "SessionDescription",
    "Timing",
]


class SdpError(ValueError):
    """The peer's SDP is malformed (or, in subclasses, unacceptable).

    ``lineno`` is the 1-based line at fault, or None when the problem is not
    one line's; ``reason`` is the message without the line prefix; ``status``
    is the SIP response the layer above should send (400 here, 488 for
    ``NotAcceptable``).
    """

    status: int = 400

    def __init__(self, reason: str, lineno: int | None = None) -> None:
        super().__init__(reason if lineno is None else f"line {lineno}: {reason}")
        self.reason = reason
        self.lineno = lineno


class SdpUsageError(ValueError):
    """Our own code misused the SDP API (bad ``LocalMedia``, unknown direction)."""


class Direction(StrEnum):
    """Stream direction attribute (RFC 4566 §6, RFC 3264 §5.1), seen by the describer."""

    SENDRECV = "sendrecv"
    SENDONLY = "sendonly"
    RECVONLY = "recvonly"
    INACTIVE = "inactive"

    @property
    def sends(self) -> bool:
        """Whether the describer sends media."""
        return self in (Direction.SENDRECV, Direction.SENDONLY)

    @property
    def receives(self) -> bool:
        """Whether the describer receives media."""
        return self in (Direction.SENDRECV, Direction.RECVONLY)

    @classmethod
    def from_flags(cls, *, sends: bool, receives: bool) -> Direction:
        """The direction that sends and/or receives."""
        if sends:
            return cls.SENDRECV if receives else cls.SENDONLY
        return cls.RECVONLY if receives else cls.INACTIVE

    def reverse(self) -> Direction:
        """The answerer's mirror image (RFC 3264 §6.1): sendonly <-> recvonly."""
        return Direction.from_flags(sends=self.receives, receives=self.sends)


_DIRECTIONS = frozenset(d.value for d in Direction)

#: Connection addresses meaning "send nothing here" (RFC 3264 §8.4 for IPv4;
#: the IPv6 unspecified address is treated the same way).
HOLD_ADDRESSES = frozenset({"0.0.0.0", "::"})


class Attribute(NamedTuple):
    """An ``a=`` line: ``a=<name>`` (value None) or ``a=<name>:<value>`` (RFC 4566 §5.13)."""

    name: str
    value: str | None = None

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"


class ExtraLine(NamedTuple):
    """A line the model keeps verbatim: ``i= u= e= p= z= k=`` or an unknown type letter."""

    letter: str
    value: str


@dataclass(frozen=True, slots=True)
class Origin:
    """The ``o=`` line (RFC 4566 §5.2); ``sess_version`` counts changes (RFC 3264 §8)."""

    username: str
    sess_id: str
    sess_version: int
    nettype: str
    addrtype: str
    address: str

    def __str__(self) -> str:
        return (
            f"{self.username} {self.sess_id} {self.sess_version} "
            f"{self.nettype} {self.addrtype} {self.address}"
        )


@dataclass(frozen=True, slots=True)
class Connection:
    """A ``c=`` line (RFC 4566 §5.7); ``address`` keeps any multicast ``/ttl/count``."""

    nettype: str
    addrtype: str
    address: str

    @property
    def host(self) -> str:
        """The address without the multicast ``/ttl`` or ``/count`` suffix."""
        return self.address.split("/", 1)[0]

    @property
    def is_hold(self) -> bool:
        """Old-style hold, ``c=IN IP4 0.0.0.0`` (RFC 3264 §8.4)."""
        return self.host in HOLD_ADDRESSES

    def __str__(self) -> str:
        return f"{self.nettype} {self.addrtype} {self.address}"


@dataclass(frozen=True, slots=True)
class Bandwidth:
    """A ``b=<bwtype>:<bandwidth>`` line (RFC 4566 §5.8)."""

    bwtype: str
    bandwidth: int

    def __str__(self) -> str:
        return f"{self.bwtype}:{self.bandwidth}"


@dataclass(frozen=True, slots=True)
class Timing:
    """A ``t=`` line and the ``r=`` lines after it (RFC 4566 §5.9, §5.10)."""

    start: int = 0
    stop: int = 0
    repeats: tuple[str, ...] = ()


def _first_value(attributes: Sequence[Attribute], name: str) -> str | None:
    return next((a.value for a in attributes if a.name == name and a.value is not None), None)


def _direction_of(attributes: Sequence[Attribute]) -> Direction | None:
    return next((Direction(a.name) for a in attributes if a.name in _DIRECTIONS), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaDescription:
    """One ``m=`` section (RFC 4566 §5.14) with its ``c=``, ``b=`` and ``a=`` lines."""

    media: str
    port: int
    proto: str
    formats: tuple[str, ...]
    port_count: int | None = None
    connection: Connection | None = None
    bandwidths: tuple[Bandwidth, ...] = ()
    attributes: tuple[Attribute, ...] = ()
    extra_lines: tuple[ExtraLine, ...] = ()

    @property
    def is_rtp(self) -> bool:
        """Whether the formats are RTP payload types (RTP/AVP, RTP/SAVPF, ...)."""
        return is_rtp(self.proto)

    @property
    def payload_types(self) -> tuple[int, ...]:
        """The formats as payload type numbers (empty for non-RTP transports)."""
        if not self.is_rtp:
            return ()
        return tuple(int(f) for f in self.formats if is_payload_type(f))

    @property
    def rtpmap(self) -> dict[int, RtpMap]:
        """Explicit ``a=rtpmap`` mappings, payload type -> RtpMap (first one wins)."""
        found: dict[int, RtpMap] = {}
        for value in self.values("rtpmap"):
            parsed = parse_rtpmap(value, audio=self.media == "audio")
            if parsed is not None:
                found.setdefault(*parsed)
        return found

    @property
    def fmtp(self) -> dict[int, str]:
        """``a=fmtp`` parameters, payload type -> parameter text (first one wins)."""
        found: dict[int, str] = {}
        for value in self.values("fmtp"):
            parsed = parse_fmtp(value)
            if parsed is not None:
                found.setdefault(*parsed)
        return found

    @property
    def ptime(self) -> int | None:
        """``a=ptime`` in milliseconds (RFC 4566 §6), or None."""
        return parse_ms(_first_value(self.attributes, "ptime"))

    @property
    def maxptime(self) -> int | None:
        """``a=maxptime`` in milliseconds (RFC 4566 §6), or None."""
        return parse_ms(_first_value(self.attributes, "maxptime"))

    @property
    def direction(self) -> Direction | None:
        """The media-level direction attribute, or None (see ``effective_direction``)."""
        return _direction_of(self.attributes)

    def codec(self, payload_type: int) -> RtpMap | None:
        """What a payload type carries: its rtpmap, else the RFC 3551 static table."""
        if not self.is_rtp:
            return None
        return self.rtpmap.get(payload_type) or STATIC_PAYLOAD_TYPES.get(payload_type)

    def values(self, name: str) -> list[str]:
        """The values of every ``a=<name>:<value>`` line, in order."""
        return [a.value for a in self.attributes if a.name == name and a.value is not None]


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionDescription:
    """A whole SDP body (RFC 4566 §5): session-level lines and the media sections."""

    origin: Origin
    session_name: str = "-"
    version: int = 0
    connection: Connection | None = None
    bandwidths: tuple[Bandwidth, ...] = ()
    timings: tuple[Timing, ...] = (Timing(),)
    attributes: tuple[Attribute, ...] = ()
    media: tuple[MediaDescription, ...] = ()
    extra_lines: tuple[ExtraLine, ...] = ()

    @classmethod
    def parse(cls, data: str | bytes) -> SessionDescription:
        """Parse an SDP body (CRLF or bare LF line ends); raise ``SdpError`` if malformed."""
        from media.sip.sdp._parser import parse  # deferred: the parser builds this class

        return parse(data)

    @property
    def direction(self) -> Direction | None:
        """The session-level direction attribute, or None."""
        return _direction_of(self.attributes)

    def effective_direction(self, media: MediaDescription) -> Direction:
        """Media-level direction, else session-level, else sendrecv (RFC 3264 §5.1)."""
        return media.direction or self.direction or Direction.SENDRECV

    def effective_connection(self, media: MediaDescription) -> Connection | None:
        """The media's ``c=``, else the session's (RFC 4566 §5.7)."""
        return media.connection or self.connection

    def attribute(self, name: str) -> str | None:
        """The value of the first session-level ``a=<name>:<value>``, or None."""
        return _first_value(self.attributes, name)

    def __str__(self) -> str:
        return "".join(f"{line}\r\n" for line in _session_lines(self))

    def __bytes__(self) -> bytes:
        return str(self).encode("utf-8")


# ---------------------------------------------------------------------------
# Serializer (RFC 4566 §5 order)


def _session_lines(sdp: SessionDescription) -> Iterator[str]:
    yield f"v={sdp.version}"
    yield f"o={sdp.origin}"
    yield f"s={sdp.session_name}"
    yield from _extras(sdp.extra_lines, "iuep")
    if sdp.connection is not None:
        yield f"c={sdp.connection}"
    yield from (f"b={b}" for b in sdp.bandwidths)
    for timing in sdp.timings:
        yield f"t={timing.start} {timing.stop}"
        yield from (f"r={r}" for r in timing.repeats)
    yield from _extras(sdp.extra_lines, "iuep", exclude=True)
    yield from (f"a={a}" for a in sdp.attributes)
    for media in sdp.media:
        yield from _media_lines(media)


def _media_lines(media: MediaDescription) -> Iterator[str]:
    port = media.port if media.port_count is None else f"{media.port}/{media.port_count}"
    yield " ".join(["m=" + media.media, str(port), media.proto, *media.formats])
    yield from _extras(media.extra_lines, "i")
    if media.connection is not None:
        yield f"c={media.connection}"
    yield from (f"b={b}" for b in media.bandwidths)
    yield from _extras(media.extra_lines, "i", exclude=True)
    yield from (f"a={a}" for a in media.attributes)


def _extras(extras: Sequence[ExtraLine], letters: str, *, exclude: bool = False) -> Iterator[str]:
    for extra in extras:
        if (extra.letter in letters) != exclude:
            yield f"{extra.letter}={extra.value}"
