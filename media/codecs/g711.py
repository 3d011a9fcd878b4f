"""G.711 mu-law (PCMU) and A-law (PCMA) by table lookup.

The tables are computed once at import from the segment rules of ITU-T G.711
(1988), Tables 1a/2a, as realised by ITU-T G.191's reference software
(STL ``g711.c``: ``ulaw_compress``/``alaw_compress`` and the matching expanders):

* mu-law works on the 14 most significant bits, A-law on the 13 most significant
  bits of the int16 sample; the low bits are truncated.
* Negative samples are taken in one's complement (``~x``), so the quantiser is
  symmetric about -0.5: ``encode(-1 - x)`` is ``encode(x)`` with the sign bit
  cleared, and the mean coding error is half an LSB with no other DC bias.

Encoding is one gather from a 65,536-entry table indexed by the sample's bit
pattern; decoding is one gather from a 256-entry table.  Decoding agrees with
every implementation we know of (sox, Python's ``audioop``, G.191).  Encoding
equals ``audioop`` for A-law everywhere and for mu-law on non-negative samples;
see ``tests/media/test_g711.py`` for the exact relations to sox and ``audioop``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "alaw_decode",
    "alaw_encode",
    "ulaw_decode",
    "ulaw_encode",
]

Int16Array = npt.NDArray[np.int16]

_ULAW_BIAS = 33  # G.711 mu-law segment offset, in 14-bit units (0x84 >> 2)
_ULAW_MAX = 0x1FFF  # largest biased 14-bit magnitude


def _all_int16() -> npt.NDArray[np.int32]:
    """Every int16 value, ordered by its uint16 bit pattern (the table index)."""
    return np.arange(1 << 16, dtype=np.uint16).view(np.int16).astype(np.int32)


def _bit_length(values: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]:
    """``int.bit_length`` for non-negative values below 2**24 (frexp is exact there)."""
    return np.frexp(values.astype(np.float64))[1].astype(np.int32)


def _sign_bits(x: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]:
    """0x80 for non-negative samples: G.711's sign bit is 1 for positive values."""
    return np.where(x >= 0, 0x80, 0).astype(np.int32)


def _ulaw_encode_table() -> npt.NDArray[np.uint8]:
    x = _all_int16()
    magnitude = np.where(x < 0, ~x, x) >> 2
    biased = np.minimum(magnitude + _ULAW_BIAS, _ULAW_MAX)
    segment = _bit_length(biased) - 6  # biased >= 33 has at least 6 bits
    mantissa = (biased >> (segment + 1)) & 0x0F
    # mu-law transmits the code inverted (G.711 §3: all bits complemented).
    code = (0x7F ^ ((segment << 4) | mantissa)) | _sign_bits(x)
    return code.astype(np.uint8)


def _alaw_encode_table() -> npt.NDArray[np.uint8]:
    x = _all_int16()
    magnitude = np.where(x < 0, ~x, x) >> 4  # 0..2047; step 16 in segments 0 and 1
    segment = np.maximum(_bit_length(magnitude) - 4, 0)
    mantissa = (magnitude >> np.maximum(segment - 1, 0)) & 0x0F
    # A-law inverts the even bits on the line (G.711 §2: "alternate digit inversion").
    code = ((segment << 4) | mantissa | _sign_bits(x)) ^ 0x55
    return code.astype(np.uint8)


def _ulaw_decode_table() -> Int16Array:
    code = ~np.arange(256, dtype=np.int32) & 0xFF
    segment = (code >> 4) & 0x07
    mantissa = code & 0x0F
    magnitude = (((mantissa << 3) + (_ULAW_BIAS << 2)) << segment) - (_ULAW_BIAS << 2)
    return np.where(code & 0x80, -magnitude, magnitude).astype(np.int16)


def _alaw_decode_table() -> Int16Array:
    code = np.arange(256, dtype=np.int32) ^ 0x55
    segment = (code >> 4) & 0x07
    mantissa = code & 0x0F
    # Reconstruct at the middle of the decision interval (+8 in 16-bit units).
    linear = (mantissa << 4) + 8
    magnitude = np.where(segment == 0, linear, (linear + 0x100) << np.maximum(segment - 1, 0))
    return np.where(code & 0x80, magnitude, -magnitude).astype(np.int16)


_ULAW_ENCODE = _ulaw_encode_table()
_ALAW_ENCODE = _alaw_encode_table()
_ULAW_DECODE = _ulaw_decode_table()
_ALAW_DECODE = _alaw_decode_table()
for _table in (_ULAW_ENCODE, _ALAW_ENCODE, _ULAW_DECODE, _ALAW_DECODE):
    _table.flags.writeable = False  # shared by every call: nobody may patch them
del _table


def _encode(table: npt.NDArray[np.uint8], pcm: Int16Array) -> bytes:
    if pcm.dtype != np.int16:
        raise TypeError(f"G.711 encodes int16 PCM, got dtype {pcm.dtype}")
    # The uint16 view reinterprets the bits in place: the gather is the only copy
    # before bytes() takes its own.
    return table.take(pcm.view(np.uint16)).tobytes()


def _decode(table: Int16Array, payload: bytes | bytearray | memoryview) -> Int16Array:
    return table.take(np.frombuffer(payload, dtype=np.uint8))


def ulaw_encode(pcm: Int16Array) -> bytes:
    """Encode int16 PCM to G.711 mu-law (PCMU) bytes, one byte per sample.

    Raises ``TypeError`` if ``pcm`` is not int16.
    """
    return _encode(_ULAW_ENCODE, pcm)


def ulaw_decode(payload: bytes | bytearray | memoryview) -> Int16Array:
    """Decode G.711 mu-law (PCMU) bytes to a new int16 array, one sample per byte."""
    return _decode(_ULAW_DECODE, payload)


def alaw_encode(pcm: Int16Array) -> bytes:
    """Encode int16 PCM to G.711 A-law (PCMA) bytes, one byte per sample.

    Raises ``TypeError`` if ``pcm`` is not int16.
    """
    return _encode(_ALAW_ENCODE, pcm)


def alaw_decode(payload: bytes | bytearray | memoryview) -> Int16Array:
    """Decode G.711 A-law (PCMA) bytes to a new int16 array, one sample per byte."""
    return _decode(_ALAW_DECODE, payload)
