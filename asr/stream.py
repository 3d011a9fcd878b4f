"""One utterance's decoding, fed from the event loop and run in the worker pool.

The loop only appends frames to a list (`feed`); a job in a worker thread decodes
whatever is pending, and each stream has at most one job in flight, so a stream's
frames reach its recognizer in order while many streams share a few threads. The
backlog is bounded: a stream whose decoder falls more than ``max_backlog`` frames
behind is abandoned and reports overload (the caller hears "no match"), instead of
queueing without bound and delaying everyone. `cancel` (hang-up, a DTMF key came
first) drops the backlog and gives the decoder back as soon as its job ends.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Executor

import numpy as np

from .engines.base import Engine, Recognizer
from .grammar import Grammar
from .heard import Hypothesis

log = logging.getLogger(__name__)

#: frames a stream gathers before a decode job runs (100 ms). The per-call overhead of the
#: front end (bandwidth extension FFTs, resampler, a worker hand-off) is about as large as
#: the decoding of one 20 ms frame, so batching halves the CPU per stream; `final` decodes
#: the few frames left, so the end-of-speech latency does not grow.
MIN_BATCH = 5


class Overloaded(Exception):
    """The decoder fell too far behind real time; the turn ends as no match."""


class DecodeStream:
    def __init__(
        self,
        engine: Engine,
        grammar: Grammar,
        language: str,
        executor: Executor,
        *,
        max_backlog: int | None = 50,
        min_batch: int | None = None,
    ) -> None:
        self.engine = engine
        self.grammar = grammar
        self.language = language
        self.max_backlog = max_backlog
        self.min_batch = MIN_BATCH if min_batch is None else min_batch
        self.partial = ""
        self.overloaded = False
        self._executor = executor
        self._loop = asyncio.get_running_loop()
        self._pending: list[np.ndarray] = []
        self._job: asyncio.Future[None] | None = None
        self._recognizer: Recognizer | None = None
        self._lock = threading.Lock()  # guards _recognizer against a concurrent release
        self._closed = False
        self.error: BaseException | None = None

    def feed(self, frame: np.ndarray) -> None:
        """Queue one 8 kHz frame (never blocks)."""
        if self._closed or self.overloaded:
            return
        self._pending.append(frame)
        if self.max_backlog is not None and len(self._pending) > self.max_backlog:
            log.warning("speech decoder %s overloaded; turn ends as no match", self.engine.name)
            self.overloaded = True
            self._pending.clear()
            return
        if len(self._pending) >= self.min_batch:
            self._kick()

    def _kick(self) -> None:
        if self._job is None and self._pending and not self._closed:
            batch, self._pending = self._pending, []
            self._job = self._loop.run_in_executor(self._executor, self._decode, batch)
            self._job.add_done_callback(self._job_done)

    def _job_done(self, job: asyncio.Future[None]) -> None:
        self._job = None
        if not job.cancelled() and job.exception() is not None:
            self.error = job.exception()
            self._closed = True
            self._release_soon()
            return
        if self._closed:
            self._release_soon()
        elif len(self._pending) >= self.min_batch:
            self._kick()

    def _decode(self, batch: list[np.ndarray]) -> None:
        with self._lock:
            if self._closed:
                return
            if self._recognizer is None:
                self._recognizer = self.engine.acquire(self.grammar, self.language)
            self._recognizer.accept(np.concatenate(batch) if len(batch) > 1 else batch[0])
            self.partial = self._recognizer.partial()

    async def final(self) -> Hypothesis:
        """Decode what is left and return the final hypothesis; raises `Overloaded`."""
        while (self._job is not None or self._pending) and not self._closed:
            self._kick()
            if self._job is not None:
                await asyncio.wait({self._job})
        if self.error is not None:
            raise self.error
        if self.overloaded:
            self.cancel()
            raise Overloaded
        return await self._loop.run_in_executor(self._executor, self._finish)

    def _finish(self) -> Hypothesis:
        with self._lock:
            recognizer, self._recognizer = self._recognizer, None
            self._closed = True
        if recognizer is None:
            return Hypothesis("")
        try:
            return recognizer.final()
        finally:
            self.engine.release(recognizer)

    def cancel(self) -> None:
        """Abandon the utterance: drop the backlog, free the decoder once its job ends."""
        self._closed = True
        self._pending.clear()
        if self._job is None:
            self._release_soon()

    def _release_soon(self) -> None:
        if self._recognizer is not None:
            self._loop.run_in_executor(self._executor, self._close)

    def _close(self) -> None:
        with self._lock:
            recognizer, self._recognizer = self._recognizer, None
        if recognizer is not None:
            recognizer.close()
            self.engine.release(recognizer)
