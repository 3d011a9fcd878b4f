"""StereoRecorder: file contents, silence, lifecycle, error reporting, and keeping off the loop."""

from __future__ import annotations

import asyncio
import threading
import wave
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from media.recorder import RecorderBacklogError, StereoRecorder

RATE = 8000
FRAME = 160
TICKS_PER_SECOND = RATE // FRAME
CALLER_HZ, OTHER_HZ = 400, 1000


def tone(freq: int, tick: int, amplitude: int = 8000) -> np.ndarray:
    """Frame ``tick`` of a continuous tone."""
    t = (np.arange(FRAME) + tick * FRAME) / RATE
    return np.round(amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def read_wav(path: Path) -> tuple[wave._wave_params, np.ndarray]:
    """The WAV's parameters and its samples as an (n, channels) int16 array."""
    with wave.open(str(path), "rb") as wav:
        params = wav.getparams()
        data = np.frombuffer(wav.readframes(params.nframes), dtype="<i2")
    return params, data.reshape(-1, params.nchannels)


def peak_hz(samples: np.ndarray) -> int:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    return int(np.argmax(spectrum) * RATE / len(samples))


def errors() -> tuple[list[BaseException], Callable[[BaseException], None]]:
    seen: list[BaseException] = []
    return seen, seen.append


class ManualExecutor(Executor):
    """Holds submitted jobs until the test runs them: no thread, nothing happens by itself."""

    def __init__(self) -> None:
        self.jobs: list[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self.jobs.append((future, fn, args))
        return future

    def run_pending(self) -> int:
        jobs, self.jobs = self.jobs, []
        for future, fn, args in jobs:
            try:
                future.set_result(fn(*args))
            except Exception as exc:
                future.set_exception(exc)
        return len(jobs)


class GatedExecutor(ThreadPoolExecutor):
    """A real writer thread whose jobs wait for ``gate``: a disk that stalls."""

    def __init__(self) -> None:
        super().__init__(1)
        self.gate = threading.Event()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        def gated() -> Any:
            self.gate.wait(10)
            return fn(*args, **kwargs)

        return super().submit(gated)


async def record(recorder: StereoRecorder, seconds: float, start_tick: int = 0) -> None:
    for tick in range(start_tick, start_tick + round(seconds * TICKS_PER_SECOND)):
        recorder.write(tone(CALLER_HZ, tick), tone(OTHER_HZ, tick))


async def test_three_seconds_become_a_stereo_wav(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    recorder = StereoRecorder(path)
    await record(recorder, 3)
    await recorder.close()

    params, samples = read_wav(path)
    assert (params.nchannels, params.sampwidth, params.framerate) == (2, 2, RATE)
    assert params.nframes == 3 * RATE == recorder.samples
    assert recorder.duration == 3.0
    assert peak_hz(samples[:, 0]) == CALLER_HZ
    assert peak_hz(samples[:, 1]) == OTHER_HZ
    expected_left = np.concatenate([tone(CALLER_HZ, t) for t in range(3 * TICKS_PER_SECOND)])
    np.testing.assert_array_equal(samples[:, 0], expected_left)


async def test_none_is_silence_and_keeps_channels_aligned(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    recorder = StereoRecorder(path)
    recorder.write(tone(CALLER_HZ, 0), None)  # caller speaks, prompt silent
    recorder.write(None, tone(OTHER_HZ, 1))  # prompt plays, caller silent
    recorder.write(None, None)  # nothing at all this tick
    recorder.write(tone(CALLER_HZ, 3), tone(OTHER_HZ, 3))
    await recorder.close()

    _, samples = read_wav(path)
    assert samples.shape == (4 * FRAME, 2)
    ticks = samples.reshape(4, FRAME, 2)
    np.testing.assert_array_equal(ticks[0, :, 0], tone(CALLER_HZ, 0))
    assert not ticks[0, :, 1].any()
    assert not ticks[1, :, 0].any()
    np.testing.assert_array_equal(ticks[1, :, 1], tone(OTHER_HZ, 1))
    assert not ticks[2].any()
    np.testing.assert_array_equal(ticks[3, :, 1], tone(OTHER_HZ, 3))


async def test_a_shorter_frame_is_padded_with_silence(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    recorder = StereoRecorder(path)
    recorder.write(tone(CALLER_HZ, 0), tone(OTHER_HZ, 0)[:80])
    await recorder.close()
    _, samples = read_wav(path)
    assert samples.shape == (FRAME, 2)
    assert not samples[80:, 1].any()


async def test_frames_spanning_chunk_boundaries(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    recorder = StereoRecorder(path, chunk_seconds=0.015)  # 120 samples: every frame straddles
    await record(recorder, 0.5)
    await recorder.close()
    _, samples = read_wav(path)
    expected = np.concatenate([tone(OTHER_HZ, t) for t in range(25)])
    np.testing.assert_array_equal(samples[:, 1], expected)


async def test_close_is_idempotent_and_later_writes_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    recorder = StereoRecorder(path)
    await record(recorder, 0.5)
    await asyncio.gather(recorder.close(), recorder.close())
    await recorder.close()
    assert recorder.closed
    recorder.write(tone(CALLER_HZ, 0), None)
    assert read_wav(path)[0].nframes == RATE // 2
    assert recorder.error is None


async def test_an_empty_recording_is_a_valid_wav(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    await StereoRecorder(path).close()
    params, _ = read_wav(path)
    assert (params.nchannels, params.nframes) == (2, 0)


async def test_write_never_touches_the_file(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    writer = ManualExecutor()
    recorder = StereoRecorder(path, executor=writer)

    await record(recorder, 0.98)
    assert writer.jobs == []  # less than a chunk: only memory was touched
    await record(recorder, 2.02, start_tick=49)
    assert not path.exists()  # the file is opened by the writer, never by write()
    assert len(writer.jobs) == 1  # one chunk in flight, the next two queued behind it
    assert recorder.samples == 3 * RATE

    closing = asyncio.ensure_future(recorder.close())
    while not closing.done():
        writer.run_pending()
        await asyncio.sleep(0)
    assert read_wav(path)[0].nframes == 3 * RATE


async def test_a_stalled_writer_does_not_stall_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    writer = GatedExecutor()
    recorder = StereoRecorder(path, executor=writer)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        for tick in range(3 * TICKS_PER_SECOND):
            recorder.write(tone(CALLER_HZ, tick), tone(OTHER_HZ, tick))
            ticks += 1
            await asyncio.sleep(0)

    await ticker()  # the writer thread is blocked the whole time
    assert ticks == 150 and not path.exists()
    writer.gate.set()
    await recorder.close()
    writer.shutdown()
    assert read_wav(path)[0].nframes == 3 * RATE


async def test_a_crash_leaves_a_readable_wav_up_to_the_last_chunk(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    recorder = StereoRecorder(path)
    await record(recorder, 2)
    await recorder.flush()
    await record(recorder, 0.5, start_tick=100)  # still buffered when we "crash"

    params, samples = read_wav(path)  # read as is, never closed
    assert params.nframes == 2 * RATE
    assert peak_hz(samples[:, 0]) == CALLER_HZ
    await recorder.close()
    assert read_wav(path)[0].nframes == 2 * RATE + RATE // 2


async def test_unwritable_path_is_reported_once_and_never_raised(tmp_path: Path) -> None:
    seen, on_error = errors()
    recorder = StereoRecorder(tmp_path / "missing" / "call.wav", on_error=on_error)
    await record(recorder, 1)
    await recorder.flush()
    await record(recorder, 2)  # no-ops now
    await recorder.close()
    assert len(seen) == 1 and isinstance(seen[0], FileNotFoundError)
    assert recorder.error is seen[0]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
async def test_disk_full_is_reported_once() -> None:
    seen, on_error = errors()
    recorder = StereoRecorder(Path("/dev/full"), on_error=on_error, chunk_seconds=0.1)
    await record(recorder, 1)
    await recorder.flush()
    await recorder.close()
    assert len(seen) == 1 and isinstance(seen[0], OSError)


async def test_a_failing_callback_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(exc: BaseException) -> None:
        raise RuntimeError("callback bug")

    recorder = StereoRecorder(tmp_path / "missing" / "call.wav", on_error=explode)
    await record(recorder, 1)
    await recorder.close()
    assert "recording to" in caplog.text and "callback failed" in caplog.text


async def test_an_endless_backlog_stops_the_recording(tmp_path: Path) -> None:
    seen, on_error = errors()
    writer = GatedExecutor()
    path = tmp_path / "call.wav"
    recorder = StereoRecorder(path, executor=writer, max_backlog_seconds=2, on_error=on_error)
    await record(recorder, 5)
    assert len(seen) == 1 and isinstance(seen[0], RecorderBacklogError)
    writer.gate.set()
    await recorder.close()
    writer.shutdown()
    assert len(seen) == 1
    assert read_wav(path)[0].nframes == RATE  # the one chunk that was already in flight


async def test_bad_frames_are_refused(tmp_path: Path) -> None:
    recorder = StereoRecorder(tmp_path / "call.wav")
    with pytest.raises(TypeError, match="int16"):
        recorder.write(np.zeros(FRAME, dtype=np.float32), None)
    with pytest.raises(TypeError, match="int16"):
        recorder.write(None, np.zeros((2, FRAME), dtype=np.int16))
    await recorder.close()
    assert read_wav(tmp_path / "call.wav")[0].nframes == 0
