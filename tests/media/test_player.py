"""The sans-IO player, the play queue and the ticker's pacing arithmetic."""

from __future__ import annotations

import random
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from media.prompts.audio import Prompt
from media.prompts.player import FrameClock, PlaybackEnded, Player, PlayQueue


def drain(player: Player | PlayQueue, limit: int = 10_000) -> list[np.ndarray]:
    frames = []
    while (frame := player.next_frame()) is not None:
        frames.append(frame)
        assert len(frames) < limit
    return frames


def frame_of(player: Player) -> np.ndarray:
    frame = player.next_frame()
    assert frame is not None
    return frame


def ramp(n: int, start: int = 1) -> np.ndarray:
    return np.arange(start, start + n, dtype=np.int16)


# -- Player ------------------------------------------------------------------------------


def test_frames_are_exact_and_the_last_is_zero_padded() -> None:
    pcm = ramp(1000)
    player = Player(Prompt(pcm=pcm, source="ramp", kind="tone"))
    frames = drain(player)
    assert [len(f) for f in frames] == [160] * 7
    assert np.array_equal(np.concatenate(frames)[:1000], pcm)
    assert not frames[-1][40:].any()
    assert player.done and player.next_frame() is None
    assert player.position_ms == 125.0


def test_full_frames_are_views_and_no_padding_frame_is_added() -> None:
    pcm = ramp(320)
    player = Player(pcm)
    frames = drain(player)
    assert len(frames) == 2
    assert all(np.shares_memory(f, pcm) for f in frames)
    assert player.source == "pcm"


def test_stop_takes_effect_on_the_next_frame() -> None:
    player = Player(ramp(8000))
    for _ in range(3):
        player.next_frame()
    assert not player.done and player.position_ms == 60.0
    player.stop()
    assert player.done and player.next_frame() is None
    assert player.position_ms == 60.0  # where the caller barged in, for the call record


def test_loop_repeats_seamlessly_until_stopped() -> None:
    pcm = ramp(250)
    player = Player(pcm, loop=True)
    frames = [frame_of(player) for _ in range(20)]
    assert all(len(f) == 160 for f in frames)
    assert np.array_equal(np.concatenate(frames), np.resize(pcm, 20 * 160))
    assert not player.done
    player.stop()
    assert player.next_frame() is None


def test_loop_shorter_than_a_frame_and_exact_multiple() -> None:
    short = Player(ramp(50), loop=True)
    assert np.array_equal(frame_of(short), np.resize(ramp(50), 160))
    exact = Player(ramp(320), loop=True)
    frames = [frame_of(exact) for _ in range(5)]
    assert np.array_equal(np.concatenate(frames), np.resize(ramp(320), 800))
    assert exact.position_ms == 20.0


@pytest.mark.parametrize("loop", [False, True])
def test_empty_prompt_is_done_at_once(loop: bool) -> None:
    player = Player(np.zeros(0, np.int16), loop=loop)
    assert player.done and player.next_frame() is None


def test_player_rejects_wrong_pcm() -> None:
    with pytest.raises(ValueError, match="int16"):
        Player(np.zeros(10))
    with pytest.raises(ValueError, match="frame_samples"):
        Player(ramp(10), frame_samples=0)


@given(st.integers(0, 2000), st.integers(1, 400))
def test_any_length_any_frame_size(n: int, size: int) -> None:
    pcm = ramp(n) if n else np.zeros(0, np.int16)
    frames = drain(Player(pcm, frame_samples=size))
    assert len(frames) == -(-n // size)
    assert all(len(f) == size for f in frames)
    joined = np.concatenate(frames) if frames else np.zeros(0, np.int16)
    assert np.array_equal(joined[:n], pcm) and not joined[n:].any()


# -- PlayQueue ---------------------------------------------------------------------------


def prompt(n: int, name: str, start: int = 1) -> Prompt:
    return Prompt(pcm=ramp(n, start), source=name, kind="speech")


def test_queue_plays_back_to_back_and_reports_each_end() -> None:
    queue = PlayQueue()
    first = queue.enqueue(prompt(320, "one"))
    second = queue.enqueue(prompt(200, "two", 1000))
    frames = drain(queue)
    assert len(frames) == 2 + 2
    assert frames[2][0] == 1000  # the second prompt starts on a fresh frame
    assert queue.done
    assert queue.events() == [
        PlaybackEnded(first, "one", 40.0, False),
        PlaybackEnded(second, "two", 25.0, False),
    ]
    assert queue.events() == []


def test_queue_stop_is_barge_in_for_everything_queued() -> None:
    queue = PlayQueue()
    handles = [queue.enqueue(prompt(1600, name)) for name in ("a", "b", "c")]
    queue.next_frame()
    assert queue.current_handle == handles[0]
    queue.stop()
    assert queue.next_frame() is None and queue.done
    events = queue.events()
    assert [e.handle for e in events] == handles
    assert all(e.interrupted for e in events)
    assert [e.position_ms for e in events] == [20.0, 0.0, 0.0]


def test_queue_skip_leaves_a_looping_prompt() -> None:
    queue = PlayQueue()
    hold = queue.enqueue(prompt(100, "music"), loop=True)
    queue.enqueue(prompt(160, "agent joins", 5000))
    for _ in range(10):
        assert queue.next_frame() is not None
    queue.skip()
    frame = queue.next_frame()
    assert frame is not None and frame[0] == 5000
    assert queue.events()[0] == PlaybackEnded(hold, "music", 0.0, True)


def test_skip_before_the_first_frame_skips_the_first_prompt() -> None:
    queue = PlayQueue()
    queue.enqueue(prompt(160, "a"))
    queue.enqueue(prompt(160, "b", 7))
    queue.skip()
    frame = queue.next_frame()
    assert frame is not None and frame[0] == 7


# -- FrameClock --------------------------------------------------------------------------


def test_clock_counts_due_frames_and_catches_up() -> None:
    clock = FrameClock(100.0)
    assert clock.due(99.99) == 0
    assert clock.due(100.0) == 1  # frame 0 is due at the start
    assert clock.next_deadline() == pytest.approx(100.02)
    assert clock.due(100.019) == 0
    assert clock.due(100.1001) == 5  # woke 80 ms late: frames 1..5
    assert clock.next_deadline() == pytest.approx(100.12)
    assert clock.due(100.05) == 0  # time going backwards never un-counts frames
    assert clock.frames == 6


def test_a_frame_is_due_exactly_at_its_deadline() -> None:
    clock = FrameClock(12345.678, 0.02)
    for _ in range(5000):
        assert clock.due(clock.next_deadline()) == 1


def test_no_drift_over_ten_thousand_periods_of_late_wake_ups() -> None:
    rng = random.Random(7)
    start, period = 5000.123, 0.02
    clock = FrameClock(start, period)
    total, now = 0, start
    while clock.frames < 10_000:
        lateness = rng.choice([0.0, rng.uniform(0, 0.003), rng.uniform(0, 0.07)])
        now = clock.next_deadline() + lateness
        total += clock.due(now)
    # Every deadline up to now was counted exactly once, and the schedule is still
    # anchored at start: the n-th deadline is start + n * period, not start + sum(lags).
    assert total == clock.frames == int((now - start) / period + 1e-9) + 1
    assert clock.next_deadline() == pytest.approx(start + clock.frames * period, abs=1e-9)


@given(st.lists(st.floats(0, 0.5), min_size=1, max_size=200))
def test_due_counts_every_deadline_once(steps: list[float]) -> None:
    clock = FrameClock(1.0)
    now, total = 1.0, 0
    for step in steps:
        now += step
        total += clock.due(now)
    expected = sum(1 for n in range(int(now / 0.02) + 100) if 1.0 + n * 0.02 <= now)
    assert total == expected


def test_clock_rejects_a_bad_period() -> None:
    with pytest.raises(ValueError):
        FrameClock(0.0, 0.0)


def test_report_frame_cost() -> None:
    """Measured, not asserted (run with -s): what the 20 ms ticker pays per call."""
    player = Player(np.zeros(8000 * 600, np.int16))
    started = time.perf_counter()
    for _ in range(20_000):
        player.next_frame()
    per_frame = (time.perf_counter() - started) / 20_000
    print(f"\nPlayer.next_frame {per_frame * 1e6:.2f} us/frame")
