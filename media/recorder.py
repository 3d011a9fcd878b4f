"""Stereo call recording: caller on the left, the other side on the right.

`StereoRecorder.write` runs on the event loop once per 20 ms tick, so it only
copies the two frames into a preallocated interleaved int16 buffer. Each full
chunk (1 s by default) is handed to a background writer thread, which appends
it to a standard 16-bit stereo WAV through the `wave` module.

Crash safety: the file is created with a valid zero-length header, and after
every chunk the writer patches the RIFF and data lengths (`wave` does this in
``writeframes``) and flushes to the OS. A process that dies mid-call therefore
leaves a standard WAV whose header is exact up to the last chunk written —
at most one chunk plus the writer's backlog is lost — rather than a header
with a placeholder length that some readers reject or misread.

Ordering: each recorder has at most one write job in flight and queues
further chunks until it finishes, so its chunks reach the file in order
whatever executor runs them, and one slow file cannot reorder another's.

Errors (disk full, directory gone) are logged once and passed once to the
``on_error`` callback on the event loop; the recording then stops and
``write`` becomes a no-op. Nothing is ever raised into the ticker.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import wave
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

__all__ = ["ErrorCallback", "RecorderBacklogError", "StereoRecorder"]

logger = logging.getLogger(__name__)

ErrorCallback = Callable[[BaseException], None]
Frame = npt.NDArray[np.int16]

_CHANNELS = 2
_SAMPLE_WIDTH = 2  # bytes: 16-bit PCM

_shared_writer: Executor | None = None
_shared_writer_lock = threading.Lock()


def _default_writer() -> Executor:
    """The process-wide writer thread shared by every recorder.

    One thread is enough: each job appends ~32 KB per call-second, far below
    what a disk absorbs, and per-recorder ordering does not depend on it.
    """
    global _shared_writer
    with _shared_writer_lock:
        if _shared_writer is None:
            _shared_writer = ThreadPoolExecutor(1, thread_name_prefix="hotline-recorder")
        return _shared_writer


class RecorderBacklogError(RuntimeError):
    """The writer fell so far behind (stalled disk) that the recording was stopped.

    Stopping, rather than buffering without bound, caps memory at
    ``max_backlog_seconds`` per call; rather than dropping chunks, it keeps the
    file a faithful (if truncated) copy without silent gaps.
    """


class _WavSink:
    """The WAV file itself; only ever touched from the writer thread, one job at a time."""

    def __init__(self, path: Path, sample_rate: int) -> None:
        self._path = path
        self._sample_rate = sample_rate
        self._file: BinaryIO | None = None
        self._wav: wave.Wave_write | None = None
        self._lock = threading.Lock()  # close() may race a job on a multi-thread executor

    def write(self, chunks: list[np.ndarray]) -> None:
        """Append ``chunks`` (n x 2 int16) and leave an exact header on disk."""
        with self._lock:
            wav = self._wav if self._wav is not None else self._open()
            for chunk in chunks:
                wav.writeframes(chunk.data)  # patches the header lengths after each write
            assert self._file is not None
            self._file.flush()

    def _open(self) -> wave.Wave_write:
        # Both stay open across jobs until close(), so no context manager.
        self._file = open(self._path, "wb")  # noqa: SIM115
        wav = wave.open(self._file, "wb")  # noqa: SIM115
        wav.setnchannels(_CHANNELS)
        wav.setsampwidth(_SAMPLE_WIDTH)
        wav.setframerate(self._sample_rate)
        wav.writeframes(b"")  # header now, so even an empty recording is a valid WAV
        self._wav = wav
        return wav

    def close(self, create: bool) -> None:
        """Finalise the header and close; ``create`` makes an empty WAV if none was opened."""
        with self._lock:
            if self._wav is None and create:
                self._open()
            wav, file = self._wav, self._file
            self._wav = self._file = None
            try:
                if wav is not None:
                    wav.close()
            finally:
                if file is not None:
                    file.close()


class StereoRecorder:
    """Records a call to a 16-bit stereo WAV: left = caller, right = agent or IVR.

    Call `write` from the event loop once per tick and ``await close()`` at
    hang-up. ``executor`` runs the file writes (default: one shared writer
    thread); ``on_error`` is called once, on the loop, if recording fails.
    """

    def __init__(
        self,
        path: Path,
        sample_rate: int = 8000,
        *,
        chunk_seconds: float = 1.0,
        max_backlog_seconds: float = 60.0,
        on_error: ErrorCallback | None = None,
        executor: Executor | None = None,
    ) -> None:
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        self.path = Path(path)
        self.sample_rate = sample_rate
        self._chunk = max(1, round(sample_rate * chunk_seconds))
        self._max_backlog = max(1, round(sample_rate * max_backlog_seconds))
        self._frame = sample_rate // 50  # samples of silence for a tick with no frames
        self._on_error = on_error
        self._executor = executor if executor is not None else _default_writer()
        self._sink = _WavSink(self.path, sample_rate)
        self._buffer = np.empty((self._chunk, _CHANNELS), dtype=np.int16)
        self._fill = 0
        self._pending: deque[np.ndarray] = deque()
        self._backlog = 0  # samples handed off but not yet confirmed written
        self._inflight: asyncio.Future[None] | None = None
        self._samples = 0
        self._error: BaseException | None = None
        self._closing: asyncio.Task[None] | None = None

    # -- state ------------------------------------------------------------

    @property
    def samples(self) -> int:
        """Samples per channel accepted by `write` so far."""
        return self._samples

    @property
    def duration(self) -> float:
        """Seconds of audio accepted by `write` so far."""
        return self._samples / self.sample_rate

    @property
    def error(self) -> BaseException | None:
        """The error that stopped the recording, if any."""
        return self._error

    @property
    def closed(self) -> bool:
        """Whether `close` has been called (writes are then ignored)."""
        return self._closing is not None

    # -- the tick ---------------------------------------------------------

    def write(self, caller: Frame | None, other: Frame | None) -> None:
        """Record one tick: ``caller`` left, ``other`` right; None is silence.

        Both channels advance by the longer frame (the shorter one is padded
        with silence), so they stay aligned in time. Only memory is touched
        here; a full chunk is handed to the writer. After `close` or a failure
        this is a no-op.
        """
        if self._closing is not None or self._error is not None:
            return
        _check_frame(caller)
        _check_frame(other)
        count = _frame_length(caller, other, self._frame)
        done = 0
        while done < count:
            take = min(count - done, self._chunk - self._fill)
            rows = self._buffer[self._fill : self._fill + take]
            _copy_channel(rows[:, 0], caller, done)
            _copy_channel(rows[:, 1], other, done)
            self._fill += take
            done += take
            if self._fill == self._chunk:
                self._hand_off()
        self._samples += count

    def _hand_off(self) -> None:
        """Queue the buffered samples for the writer and start a fresh buffer."""
        if self._fill == 0 or self._error is not None:
            return
        self._pending.append(self._buffer[: self._fill])
        self._backlog += self._fill
        self._buffer = np.empty((self._chunk, _CHANNELS), dtype=np.int16)
        self._fill = 0
        if self._backlog > self._max_backlog:
            seconds = self._backlog / self.sample_rate
            self._fail(RecorderBacklogError(f"writer is {seconds:.0f} s behind"))
            return
        self._pump()

    def _pump(self) -> None:
        if self._inflight is not None or not self._pending or self._error is not None:
            return
        chunks = list(self._pending)
        self._pending.clear()
        loop = asyncio.get_running_loop()
        job = loop.run_in_executor(self._executor, self._sink.write, chunks)
        job.add_done_callback(lambda done: self._written(done, chunks))
        self._inflight = job

    def _written(self, job: asyncio.Future[None], chunks: list[np.ndarray]) -> None:
        self._inflight = None
        self._backlog -= sum(len(chunk) for chunk in chunks)
        if job.cancelled():
            self._fail(asyncio.CancelledError("recorder write was cancelled"))
        elif (exc := job.exception()) is not None:
            self._fail(exc)
        else:
            self._pump()

    def _fail(self, exc: BaseException) -> None:
        """Stop recording and report ``exc`` — once, whatever fails next."""
        if self._error is not None:
            return
        self._error = exc
        self._pending.clear()
        logger.error("recording to %s stopped: %s", self.path, exc)
        if self._on_error is not None:
            try:
                self._on_error(exc)
            except Exception:
                logger.exception("recorder on_error callback failed")

    # -- lifecycle --------------------------------------------------------

    async def flush(self) -> None:
        """Hand over the partial chunk too and wait until everything is on disk."""
        self._hand_off()
        await self._drain()

    async def _drain(self) -> None:
        # Done callbacks run in registration order, so ours (`_written`, added
        # first) has already queued the next job by the time wait() returns.
        while self._inflight is not None:
            await asyncio.wait({self._inflight})

    async def close(self) -> None:
        """Write what is buffered, finalise the WAV header and close the file.

        Idempotent and safe to call concurrently: every caller awaits the same
        finalisation, which a cancelled caller does not interrupt. Errors are
        reported through ``on_error``, not raised.
        """
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._finish())
        await asyncio.shield(self._closing)

    async def _finish(self) -> None:
        if self._error is None:
            self._hand_off()
        await self._drain()
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._sink.close, self._error is None)
        except Exception as exc:
            self._fail(exc)


def _frame_length(caller: Frame | None, other: Frame | None, default: int) -> int:
    if caller is None:
        return default if other is None else len(other)
    if other is None:
        return len(caller)
    return max(len(caller), len(other))


def _check_frame(frame: Frame | None) -> None:
    """Refuse anything but 1-D int16: numpy would silently truncate floats into the file."""
    if frame is not None and (
        not isinstance(frame, np.ndarray) or frame.dtype != np.int16 or frame.ndim != 1
    ):
        raise TypeError(f"expected a 1-D int16 numpy frame, got {frame!r:.60}")


def _copy_channel(dst: np.ndarray, src: Frame | None, start: int) -> None:
    """Copy ``src[start:]`` into ``dst``, padding with silence where ``src`` runs out."""
    if src is None:
        dst.fill(0)
        return
    part = src[start : start + len(dst)]
    dst[: len(part)] = part
    if len(part) < len(dst):
        dst[len(part) :] = 0
