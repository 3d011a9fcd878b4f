"""The one interface every recognizer implements, and the registry that picks one.

A `Recognizer` decodes one utterance: `accept` 8 kHz int16 frames (the engine resamples
to its model rate), `partial` while the caller speaks, `final` at the end. It is used
by one worker thread at a time; `Engine.acquire` may hand out a pooled decoder that
`release` takes back, so model loading happens once, not per call.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable

import numpy as np

from media.codecs.resample import StreamResampler

from ..grammar import Grammar
from ..heard import Hypothesis


class Recognizer(abc.ABC):
    """Streaming decoding of one utterance (not thread-safe: one worker at a time)."""

    def __init__(self, model_rate: int) -> None:
        self._resampler = StreamResampler(8000, model_rate)

    def accept(self, frame8k: np.ndarray) -> None:
        """Decode the next frame(s) of telephone audio (any whole number of 20 ms frames)."""
        pcm = self._resampler.process(frame8k)
        if len(pcm):
            self.decode(pcm)

    def final(self) -> Hypothesis:
        """End the utterance and return the best hypothesis (empty text: nothing heard)."""
        tail = self._resampler.flush()
        if len(tail):
            self.decode(tail)
        return self.finish()

    @abc.abstractmethod
    def decode(self, pcm: np.ndarray) -> None: ...

    @abc.abstractmethod
    def partial(self) -> str: ...

    @abc.abstractmethod
    def finish(self) -> Hypothesis: ...

    def close(self) -> None:  # noqa: B027 -- optional hook
        """Abandon the utterance (hang-up): free what the decoder holds."""


class Engine(abc.ABC):
    """A speech engine for some languages; builds recognizers for grammars."""

    name: str = ""

    @abc.abstractmethod
    def languages(self) -> tuple[str, ...]: ...

    @abc.abstractmethod
    def acquire(self, grammar: Grammar, language: str) -> Recognizer:
        """A recognizer ready for a new utterance (called in a worker thread)."""

    def release(self, recognizer: Recognizer) -> None:  # noqa: B027 -- optional hook
        """Give a recognizer back after `final` or `close` (called in a worker thread)."""

    def warm_up(self) -> None:  # noqa: B027 -- optional hook
        """Load models now (start-up, in a worker thread) rather than on the first call."""


class Pool:
    """Reusable decoders of one engine; a decoder serves one stream at a time."""

    def __init__(self, factory: Callable[[], object]) -> None:
        self._factory = factory
        self._idle: list[object] = []
        self._lock = threading.Lock()

    def get(self) -> object:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self._factory()

    def put(self, item: object) -> None:
        with self._lock:
            self._idle.append(item)
