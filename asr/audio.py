"""Telephone-audio helpers for files, benches and tests: any WAV -> 8 kHz 20 ms frames."""

from __future__ import annotations

import wave
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import numpy as np

from media.codecs.g711 import ulaw_decode, ulaw_encode
from media.codecs.resample import resample

from .vad import FRAME, RATE


def read_wav(path: Path | str) -> np.ndarray:
    """A WAV file (any rate, mono or first channel of several) as 8 kHz int16."""
    with wave.open(str(path)) as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: only 16-bit PCM WAV is supported")
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
        pcm = pcm.reshape(-1, w.getnchannels())[:, 0].copy()
        return resample(pcm, w.getframerate(), RATE) if w.getframerate() != RATE else pcm


def through_g711(pcm: np.ndarray) -> np.ndarray:
    """What a caller's audio sounds like after a PCMU hop."""
    return ulaw_decode(ulaw_encode(pcm))


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * RATE), dtype=np.int16)


def join(parts: Iterable[np.ndarray], gap: float = 0.25) -> np.ndarray:
    """Utterances joined by ``gap`` seconds of silence (how digit strings are spoken)."""
    out: list[np.ndarray] = []
    for part in parts:
        if out:
            out.append(silence(gap))
        out.append(part)
    return np.concatenate(out) if out else silence(0)


def frames(pcm: np.ndarray) -> list[np.ndarray]:
    """20 ms frames; the last one zero-padded."""
    padded = np.concatenate([pcm, np.zeros(-len(pcm) % FRAME, dtype=np.int16)])
    return [padded[i : i + FRAME] for i in range(0, len(padded), FRAME)]


async def aiter_frames(
    pcm: np.ndarray, *, lead: float = 0.3, tail: float = 1.0
) -> AsyncIterator[np.ndarray]:
    """The frames of ``pcm`` with silence around it, as a live call would deliver them."""
    for frame in frames(np.concatenate([silence(lead), pcm, silence(tail)])):
        yield frame
