"""Audio codecs and resampling: G.711 by table lookup, a codec registry, soxr resampling.

Everything here is a pure function of int16 numpy arrays (or a small object fed
frames); nothing does I/O or reads a clock.
"""

from __future__ import annotations

from media.codecs.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from media.codecs.registry import (
    Codec,
    PcmaCodec,
    PcmuCodec,
    codec_names,
    get_codec,
    register_codec,
)
from media.codecs.resample import StreamResampler, resample

__all__ = [
    "Codec",
    "PcmaCodec",
    "PcmuCodec",
    "StreamResampler",
    "alaw_decode",
    "alaw_encode",
    "codec_names",
    "get_codec",
    "register_codec",
    "resample",
    "ulaw_decode",
    "ulaw_encode",
]
