"""Endpointing: speech onset, end of utterance, no-input and max-length, frame-clocked.

Sans-IO: `Endpointer.feed(frame, playing)` takes one 20 ms int16 frame at 8 kHz and
returns the events it caused; time is the frame count, so tests need no clock.

A frame counts as voiced only when webrtcvad says speech *and* its energy is above an
adaptive noise gate (the noise floor tracked over unvoiced frames plus a margin, and an
absolute floor). Trunks send steady line hiss and comfort noise that webrtcvad alone
calls speech at the lower aggressiveness levels; the gate keeps those out, and onset
needs several voiced frames within a short window so one click is not a caller.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import webrtcvad

RATE = 8000
FRAME = 160  # 20 ms at 8 kHz
FRAME_S = 0.02


@dataclass(frozen=True)
class Endpointing:
    """Tunables of one listen turn (seconds, dB)."""

    no_input_timeout: float = 5.0
    end_silence: float = 0.8
    max_utterance: float = 15.0
    aggressiveness: int = 2  # webrtcvad 0 (lenient) .. 3 (strict)
    onset_frames: int = 3  # voiced frames within onset_window that make an onset
    onset_window: int = 4
    gate_margin_db: float = 9.0  # above the tracked noise floor
    gate_floor_dbfs: float = -55.0  # never voiced below this (digital silence, hiss)
    preroll: float = 0.3  # audio kept before onset and handed to the recognizer


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    frame: int  # first voiced frame of the onset run


@dataclass(frozen=True, slots=True)
class SpeechEnded:
    frame: int  # frame at which the end was decided
    reason: str  # "silence" | "max_utterance" | "end_of_input"


@dataclass(frozen=True, slots=True)
class NoInput:
    frame: int


VadEvent = SpeechStarted | SpeechEnded | NoInput


def frame_dbfs(frame: np.ndarray) -> float:
    """Frame energy in dB relative to a full-scale square wave."""
    samples = frame.astype(np.float32)  # int16 squares would overflow
    power = float(np.dot(samples, samples)) / max(len(frame), 1)
    return 10 * math.log10(power / 32768.0**2 + 1e-12)


class NoiseGate:
    """The background level as the minimum frame energy of the last ``window`` frames.

    Minimum statistics follow a steady hiss within a few frames and are not pulled up
    by speech, whose pauses between words reach down to the noise again.
    """

    def __init__(self, margin_db: float, floor_dbfs: float, window: int = 75) -> None:
        self.margin_db = margin_db
        self.floor_dbfs = floor_dbfs
        self._recent: deque[float] = deque(maxlen=window)

    @property
    def noise_db(self) -> float:
        return min(self._recent, default=self.floor_dbfs)

    def open(self, dbfs: float) -> bool:
        return dbfs > max(self.floor_dbfs, self.noise_db + self.margin_db)

    def learn(self, dbfs: float) -> None:
        self._recent.append(dbfs)


class Endpointer:
    """One listen turn's speech detector; see the module docstring."""

    def __init__(self, config: Endpointing | None = None) -> None:
        self.config = config = config or Endpointing()
        self._vad = webrtcvad.Vad(config.aggressiveness)
        self._gate = NoiseGate(config.gate_margin_db, config.gate_floor_dbfs)
        self._recent: deque[bool] = deque(maxlen=config.onset_window)
        self.frame = 0  # frames fed so far
        self.waited = 0  # frames of no-input time (not counted while a prompt plays)
        self.onset: int | None = None
        self.last_voiced = 0
        self.done = False

    @property
    def in_speech(self) -> bool:
        return self.onset is not None and not self.done

    def voiced(self, frame: np.ndarray) -> bool:
        dbfs = frame_dbfs(frame)
        speech = self._gate.open(dbfs) and self._vad.is_speech(frame.tobytes(), RATE)
        self._gate.learn(dbfs)
        return speech

    def feed(self, frame: np.ndarray, playing: bool = False) -> list[VadEvent]:
        """Take the next frame; ``playing`` pauses the no-input timer (a prompt is on)."""
        if self.done:
            return []
        index, self.frame = self.frame, self.frame + 1
        voiced = self.voiced(frame)
        self._recent.append(voiced)
        if voiced:
            self.last_voiced = index
        if self.onset is None:
            return self._before_speech(index, playing)
        return self._in_speech(index)

    def _before_speech(self, index: int, playing: bool) -> list[VadEvent]:
        c = self.config
        if sum(self._recent) >= c.onset_frames:
            first = index - len(self._recent) + 1 + self._recent.index(True)
            self.onset = first
            return [SpeechStarted(first)]
        if not playing:
            self.waited += 1
        if self.waited * FRAME_S >= c.no_input_timeout:
            self.done = True
            return [NoInput(index)]
        return []

    def _in_speech(self, index: int) -> list[VadEvent]:
        c = self.config
        assert self.onset is not None
        if (index - self.last_voiced) * FRAME_S >= c.end_silence:
            self.done = True
            return [SpeechEnded(index, "silence")]
        if (index - self.onset) * FRAME_S >= c.max_utterance:
            self.done = True
            return [SpeechEnded(index, "max_utterance")]
        return []

    def end_of_input(self) -> list[VadEvent]:
        """The audio ended (file done, call over): close an open utterance."""
        if self.done:
            return []
        self.done = True
        if self.onset is not None:
            return [SpeechEnded(self.frame, "end_of_input")]
        return [NoInput(self.frame)]
