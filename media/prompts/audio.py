"""Prompts as 8 kHz int16 PCM, and WAV files of any common layout turned into them.

Everything the media engine plays is a :class:`Prompt`: mono ``int16`` samples at
:data:`SAMPLE_RATE`, plus where they came from for the call record.  WAV decoding is a
pure function of the file's bytes (:func:`decode_wav`); :func:`load_wav` adds the file
read and :func:`load_wav_async` moves both off the event loop, because resampling a
long file is exactly the kind of heavy numpy the loop must not run.

The RIFF reader is our own rather than the stdlib ``wave`` module because ``wave`` in
Python 3.11 refuses WAVE_FORMAT_EXTENSIBLE (what sox and most editors write for 24-bit
or multichannel audio) and IEEE float files.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from media.codecs.g711 import alaw_decode, ulaw_decode
from media.codecs.resample import resample

SAMPLE_RATE = 8000
"""The one rate prompts are stored and played at (narrowband telephony)."""

PromptKind = Literal["speech", "file", "tone"]

# WAVE format tags (RFC 2361 / mmreg.h) that we decode.
_FORMAT_PCM = 0x0001
_FORMAT_FLOAT = 0x0003
_FORMAT_ALAW = 0x0006
_FORMAT_ULAW = 0x0007
_FORMAT_EXTENSIBLE = 0xFFFE
_FORMAT_NAMES = {0x0002: "MS ADPCM", 0x0011: "IMA ADPCM", 0x0031: "GSM 6.10", 0x0055: "MP3"}


class PromptError(Exception):
    """A prompt could not be produced: unreadable or unsupported audio, failed TTS."""


@dataclass(frozen=True, slots=True, eq=False)
class Prompt:
    """Audio ready to play: mono int16 PCM at 8 kHz.

    ``source`` is what the call record shows (the spoken text, or the file path),
    ``kind`` says which.  The samples are stored as a read-only view so that one
    cached prompt can feed many concurrent players without copies and without any
    of them being able to corrupt it.
    """

    pcm: np.ndarray
    source: str
    kind: PromptKind

    def __post_init__(self) -> None:
        if self.pcm.dtype != np.int16 or self.pcm.ndim != 1:
            raise ValueError(
                f"Prompt pcm must be 1-D int16, got {self.pcm.dtype} with shape {self.pcm.shape}"
            )
        view = self.pcm.view()
        view.flags.writeable = False
        object.__setattr__(self, "pcm", view)

    @property
    def duration_ms(self) -> float:
        """Length of the prompt in milliseconds."""
        return len(self.pcm) * 1000 / SAMPLE_RATE


@dataclass(frozen=True, slots=True)
class WavFormat:
    """The parts of a WAV ``fmt`` chunk that decoding needs."""

    encoding: int  # _FORMAT_PCM or _FORMAT_FLOAT (extensible already unwrapped)
    channels: int
    rate: int
    bits: int
    block_align: int


def decode_wav(data: bytes, name: str = "<bytes>") -> Prompt:
    """Decode a whole WAV file to an 8 kHz mono prompt.

    Accepts PCM at 8/16/24/32 bits, IEEE float at 32/64 bits and G.711 A-law or
    mu-law (common in telephony prompt libraries), plain or WAVE_FORMAT_EXTENSIBLE,
    any rate and channel count; channels are averaged and the result resampled to
    8 kHz.  Raises :class:`PromptError` naming ``name``
    for anything else.
    """
    fmt, payload = _read_riff(data, name)
    frames = len(payload) // fmt.block_align
    interleaved = _samples_to_int16(payload[: frames * fmt.block_align], fmt)
    mono = _mix_down(interleaved, fmt.channels)
    if fmt.rate != SAMPLE_RATE and len(mono):
        mono = resample(mono, fmt.rate, SAMPLE_RATE)
    return Prompt(pcm=np.ascontiguousarray(mono, dtype=np.int16), source=name, kind="file")


def encode_wav(pcm: np.ndarray, rate: int = SAMPLE_RATE) -> bytes:
    """A mono 16-bit PCM WAV file holding ``pcm`` (the format prompts are cached in)."""
    payload = np.ascontiguousarray(pcm, dtype="<i2").tobytes()
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + len(payload),
        b"WAVE",
        b"fmt ",
        16,
        _FORMAT_PCM,
        1,
        rate,
        rate * 2,
        2,
        16,
        b"data",
        len(payload),
    )
    return header + payload


def load_wav(path: str | Path) -> Prompt:
    """Read and decode a WAV file (blocking: call :func:`load_wav_async` from the loop)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise PromptError(f"cannot read WAV file {str(path)!r}: {exc.strerror or exc}") from exc
    return decode_wav(data, str(path))


async def load_wav_async(path: str | Path) -> Prompt:
    """:func:`load_wav` in the default thread executor, so the event loop never waits on it."""
    return await asyncio.to_thread(load_wav, path)


def _read_riff(data: bytes, name: str) -> tuple[WavFormat, bytes]:
    """Walk the RIFF chunks and return the format and the sample payload."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise PromptError(f"{name!r} is not a WAV file (no RIFF/WAVE header)")
    fmt: WavFormat | None = None
    offset = 12
    while offset + 8 <= len(data):
        chunk_id = data[offset : offset + 4]
        (size,) = struct.unpack_from("<I", data, offset + 4)
        body = data[offset + 8 : offset + 8 + size]
        if chunk_id == b"fmt ":
            fmt = _parse_fmt(body, name)
        elif chunk_id == b"data":
            if fmt is None:
                raise PromptError(f"{name!r}: WAV data chunk comes before its fmt chunk")
            # A writer that was killed, or one that streams, leaves the data size
            # too large; the slice above already clamped it to what is there.
            return fmt, body
        offset += 8 + size + (size & 1)  # chunks are padded to even sizes
    raise PromptError(f"{name!r}: WAV file has no {'data' if fmt else 'fmt'} chunk")


def _parse_fmt(body: bytes, name: str) -> WavFormat:
    """Parse a ``fmt`` chunk, unwrapping WAVE_FORMAT_EXTENSIBLE to its sub-format."""
    if len(body) < 16:
        raise PromptError(f"{name!r}: WAV fmt chunk is truncated")
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", body)
    if tag == _FORMAT_EXTENSIBLE:
        if len(body) < 26:
            raise PromptError(f"{name!r}: WAV extensible fmt chunk is truncated")
        # The sub-format GUID starts with the plain format tag.
        (tag,) = struct.unpack_from("<H", body, 24)
    fmt = WavFormat(encoding=tag, channels=channels, rate=rate, bits=bits, block_align=block_align)
    _check_supported(fmt, name)
    return fmt


def _check_supported(fmt: WavFormat, name: str) -> None:
    if fmt.encoding == _FORMAT_PCM:
        ok_bits: tuple[int, ...] = (8, 16, 24, 32)
    elif fmt.encoding == _FORMAT_FLOAT:
        ok_bits = (32, 64)
    elif fmt.encoding in (_FORMAT_ALAW, _FORMAT_ULAW):
        ok_bits = (8,)
    else:
        label = _FORMAT_NAMES.get(fmt.encoding, f"format 0x{fmt.encoding:04x}")
        raise PromptError(
            f"{name!r}: unsupported WAV encoding {label}; "
            "convert it to PCM (e.g. sox in.wav -e signed -b 16 out.wav)"
        )
    if fmt.bits not in ok_bits:
        raise PromptError(f"{name!r}: unsupported WAV sample size {fmt.bits} bits")
    if not 1 <= fmt.channels <= 32 or not 1000 <= fmt.rate <= 768_000:
        raise PromptError(
            f"{name!r}: implausible WAV layout ({fmt.channels} channels at {fmt.rate} Hz)"
        )
    if fmt.block_align != fmt.channels * fmt.bits // 8:
        raise PromptError(
            f"{name!r}: WAV block align {fmt.block_align} does not match "
            f"{fmt.channels} channels of {fmt.bits} bits"
        )


def _samples_to_int16(payload: bytes, fmt: WavFormat) -> np.ndarray:
    """Interleaved samples of any supported encoding as int16."""
    if fmt.encoding == _FORMAT_ULAW:
        return ulaw_decode(payload)
    if fmt.encoding == _FORMAT_ALAW:
        return alaw_decode(payload)
    if fmt.encoding == _FORMAT_FLOAT:
        floats = np.frombuffer(payload, dtype="<f4" if fmt.bits == 32 else "<f8")
        return np.clip(np.rint(floats * 32768.0), -32768, 32767).astype(np.int16)
    if fmt.bits == 8:  # 8-bit WAV is unsigned, centred on 128
        return (np.frombuffer(payload, dtype=np.uint8).astype(np.int16) - 128) << 8
    if fmt.bits == 16:
        return np.frombuffer(payload, dtype="<i2").astype(np.int16)
    if fmt.bits == 24:
        # Keep the two most significant bytes: a 24-bit sample truncated to 16 bits.
        triplets = np.frombuffer(payload, dtype=np.uint8).reshape(-1, 3)
        return (triplets[:, 1].astype(np.uint16) | (triplets[:, 2].astype(np.uint16) << 8)).view(
            np.int16
        )
    return (np.frombuffer(payload, dtype="<i4") >> 16).astype(np.int16)


def _mix_down(interleaved: np.ndarray, channels: int) -> np.ndarray:
    """Average the channels; int32 sums cannot overflow and the mean fits int16."""
    if channels == 1:
        return interleaved
    frames = interleaved.reshape(-1, channels).astype(np.int32)
    return np.rint(frames.mean(axis=1)).astype(np.int16)
