"""The adaptive playout buffer, driven by scripted arrivals and a fake clock (no sleeping)."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from media.rtp.jitterbuffer import (
    FrameKind,
    JitterBuffer,
    PlayoutFrame,
    PlayoutState,
    conceal,
)
from media.rtp.packet import RtpPacket
from tests.media.pcap import SIPP_PCAPS, read_udp

FRAME = 0.02
SPEECH = b"\x00" * 160
SILENCE = b"\xff" * 160  # the PCMU code of zero


def packet(
    index: int,
    *,
    seq0: int = 1000,
    ts0: int = 50_000,
    ssrc: int = 0x1234,
    marker: bool = False,
    payload: bytes = SPEECH,
) -> RtpPacket:
    """The ``index``-th 20 ms frame of a PCMU stream."""
    return RtpPacket(
        0, (seq0 + index) & 0xFFFF, (ts0 + 160 * index) & 0xFFFFFFFF, ssrc, payload, marker
    )  # fmt: skip


Arrival = tuple[float, RtpPacket]


def run(
    buffer: JitterBuffer,
    arrivals: Iterable[Arrival],
    until: float,
    period: float = FRAME,
    delays: list[float] | None = None,
) -> list[tuple[float, PlayoutFrame | None]]:
    """Deliver ``arrivals`` and pop every ``period`` from t=0 until ``until``.

    ``delays``, if given, receives the buffer's delay after each pop.
    """
    pending = sorted(arrivals, key=lambda arrival: arrival[0])
    out: list[tuple[float, PlayoutFrame | None]] = []
    index = 0
    for tick in range(round(until / period) + 1):
        now = tick * period
        while index < len(pending) and pending[index][0] <= now:
            buffer.put(pending[index][1], pending[index][0])
            index += 1
        out.append((now, buffer.pop(now)))
        if delays is not None:
            delays.append(buffer.delay)
    return out


def audio_seqs(out: list[tuple[float, PlayoutFrame | None]]) -> list[int]:
    return [f.packet.sequence_number for _, f in out if f and f.packet is not None]


def concealed(out: list[tuple[float, PlayoutFrame | None]]) -> int:
    return sum(1 for _, f in out if f is not None and f.kind is FrameKind.CONCEALMENT)


def on_time(indices: Iterable[int], **kwargs: object) -> list[Arrival]:
    return [(i * FRAME, packet(i, **kwargs)) for i in indices]  # type: ignore[arg-type]


def test_clean_stream_plays_every_frame_in_order_after_min_delay() -> None:
    buffer = JitterBuffer()
    out = run(buffer, on_time(range(100)), until=2.5)
    assert audio_seqs(out) == list(range(1000, 1100))
    first = next(now for now, frame in out if frame is not None)
    assert first == pytest.approx(0.02)  # min_delay after the first arrival
    assert buffer.delay == pytest.approx(0.02)
    assert [f.timestamp for _, f in out[1:101] if f] == [50_000 + 160 * i for i in range(100)]
    stats = buffer.stats()
    assert (stats.played, stats.late, stats.duplicate) == (100, 0, 0)
    # The concealments are the tail after the stream stopped, then the buffer idles.
    assert stats.concealed == buffer.capacity
    assert buffer.state is PlayoutState.IDLE
    assert out[-1][1] is None


def test_loss_is_concealed_frame_for_frame() -> None:
    lost = {i for i in range(500) if i % 20 == 7} | {300, 301, 302}  # 5% plus a burst
    buffer = JitterBuffer()
    out = run(buffer, on_time(i for i in range(500) if i not in lost), until=499 * FRAME + 0.02)
    assert audio_seqs(out) == [1000 + i for i in range(500) if i not in lost]
    assert concealed(out) == len(lost) == buffer.concealed
    # Concealment frames sit exactly in the gaps: the timestamps stay contiguous.
    frames = [f for _, f in out if f is not None]
    assert [f.timestamp for f in frames] == [50_000 + 160 * i for i in range(500)]
    assert all((f.payload is None) == (f.kind is FrameKind.CONCEALMENT) for f in frames)
    assert {f.payload for f in frames} == {SPEECH, None}
    runs = [f.consecutive_lost for f in frames if f.kind is FrameKind.CONCEALMENT]
    assert runs.count(3) == 1 and max(runs) == 3


def test_reordering_and_duplicates_within_the_delay() -> None:
    arrivals = []
    for i in range(200):
        at = i * FRAME + (0.025 if i % 10 == 4 else 0.0)  # every 10th arrives after the next
        arrivals.append((at, packet(i)))
        if i % 25 == 0:
            arrivals.append((at + 0.005, packet(i)))  # a duplicate 5 ms later
    buffer = JitterBuffer(min_delay=0.04)
    out = run(buffer, arrivals, until=4.1)
    assert audio_seqs(out) == list(range(1000, 1200))
    assert (buffer.reordered, buffer.duplicate, buffer.late) == (20, 8, 0)


def test_duplicate_of_a_played_frame_is_a_duplicate_not_late() -> None:
    buffer = JitterBuffer()
    arrivals = [*on_time(range(20)), (0.3, packet(3))]
    run(buffer, arrivals, until=0.5)
    assert (buffer.duplicate, buffer.late, buffer.played) == (1, 0, 20)


def test_packet_after_its_playout_time_is_late_and_concealed() -> None:
    arrivals = [(i * FRAME + (0.2 if i == 50 else 0.0), packet(i)) for i in range(100)]
    buffer = JitterBuffer()
    out = run(buffer, arrivals, until=2.0)
    assert 1050 not in audio_seqs(out)
    assert audio_seqs(out) == [1000 + i for i in range(100) if i != 50]
    assert (buffer.late, buffer.concealed) == (1, 1)


def jittery(count: int, spread: float, rng: random.Random, first: float = 0.0) -> list[Arrival]:
    """``count`` packets with uniform +-``spread`` jitter, the first ``first`` s late."""
    return [
        (i * FRAME + 0.1 + (rng.uniform(-spread, spread) if i else first), packet(i))
        for i in range(count)
    ]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_delay_adapts_up_under_jitter(seed: int) -> None:
    arrivals = jittery(500, 0.04, random.Random(seed))
    buffer = JitterBuffer()
    out = run(buffer, arrivals, until=10.0)
    assert buffer.jitter == pytest.approx(0.08 / 3, rel=0.3)  # E|D| for +-40 ms
    assert buffer.target_delay > 0.08
    # The delay grows one frame per miss while below target, until frames stop missing:
    # +-40 ms around an on-time first packet needs 40 ms.
    assert buffer.delay >= 0.04 - 1e-9
    assert not any(f is not None and f.kind is FrameKind.CONCEALMENT for _, f in out[100:])
    assert audio_seqs(out) == sorted(set(audio_seqs(out)))
    # A buffer that may not grow loses a good share of the same stream.
    fixed = JitterBuffer(max_delay=0.02)
    run(fixed, arrivals, until=10.0)
    assert fixed.late > 50 > buffer.late


def test_delay_adapts_back_down_at_talkspurts_when_jitter_stops() -> None:
    rng = random.Random(2)
    arrivals = jittery(300, 0.04, rng, first=-0.04)  # 6 s of heavy jitter, early anchor
    # Then talkspurts of 1 s separated by 0.5 s of silence (sender DTX, marker set),
    # arriving without jitter.
    for spurt in range(6):
        first = 300 + spurt * 75
        for i in range(first, first + 50):
            arrivals.append((i * FRAME + 0.1, packet(i, marker=i == first)))
    buffer = JitterBuffer()
    delays: list[float] = []
    run(buffer, arrivals, until=16.0, delays=delays)
    assert delays[300] >= 0.08  # at 6 s, after the jitter
    assert buffer.target_delay == pytest.approx(buffer.min_delay)
    assert max(delays[710:740]) <= buffer.min_delay + FRAME  # the last talkspurt


def test_delay_adapts_back_down_in_silence_of_a_continuous_stream() -> None:
    rng = random.Random(3)
    arrivals = jittery(300, 0.04, rng)
    for i in range(300, 900):  # no jitter; 1 s of speech then 1 s of silence, repeated
        payload = SPEECH if (i // 50) % 2 else SILENCE
        arrivals.append((i * FRAME + 0.1, packet(i, payload=payload)))
    buffer = JitterBuffer(silent=lambda p: p.payload[:1] == b"\xff")
    out = run(buffer, arrivals, until=18.5)
    assert buffer.dropped >= 1
    assert buffer.delay <= buffer.target_delay + FRAME
    seqs = audio_seqs(out)
    assert seqs == sorted(set(seqs))
    dropped = {s - 1000 for s in set(range(1000, 1900)) - set(seqs)}
    assert all((index // 50) % 2 == 0 for index in dropped if index >= 300)  # silent ones


def test_ssrc_change_resets_and_plays_the_new_source() -> None:
    arrivals = on_time(range(50)) + [
        (i * FRAME, packet(i, seq0=7, ts0=123, ssrc=0x9999)) for i in range(50, 100)
    ]
    buffer = JitterBuffer()
    out = run(buffer, arrivals, until=2.5)
    seqs = audio_seqs(out)
    # The old source's last frame, still queued at the switch, is dropped.
    assert seqs == list(range(1000, 1049)) + [7 + i for i in range(50, 100)]
    assert (buffer.resets, buffer.dropped) == (1, 1)


def test_timestamp_jump_backwards_restarts_the_timeline() -> None:
    arrivals = on_time(range(50)) + [(i * FRAME, packet(i, ts0=0)) for i in range(50, 100)]
    buffer = JitterBuffer()
    out = run(buffer, arrivals, until=2.5)
    assert buffer.resets == 1
    seqs = audio_seqs(out)
    assert seqs == sorted(seqs) and len(seqs) >= 98
    assert buffer.late == 0


def test_timestamp_jump_forward_with_frames_queued_restarts() -> None:
    jump = 8000 * 3600  # an hour ahead
    arrivals = on_time(range(50), ts0=0) + [
        (i * FRAME, packet(i, ts0=jump)) for i in range(50, 100)
    ]
    buffer = JitterBuffer(min_delay=0.06)
    out = run(buffer, arrivals, until=2.5)
    assert buffer.resets == 1
    seqs = audio_seqs(out)
    assert seqs == sorted(seqs) and seqs[-1] == 1099


def test_sequence_and_timestamp_wrap() -> None:
    buffer = JitterBuffer()
    out = run(buffer, on_time(range(40), seq0=65520, ts0=0xFFFFFD80), until=1.2)
    assert audio_seqs(out) == [(65520 + i) & 0xFFFF for i in range(40)]
    assert buffer.concealed == buffer.capacity and buffer.resets == 0  # only the tail


def test_silence_without_marker_restarts_at_target_delay() -> None:
    # Sequence numbers contiguous, timestamps jump 2 s: the sender suppressed silence.
    arrivals = on_time(range(50)) + [(i * FRAME, packet(i, seq0=900)) for i in range(150, 200)]
    buffer = JitterBuffer()
    out = run(buffer, arrivals, until=4.5)
    seqs = audio_seqs(out)
    assert seqs == list(range(1000, 1100))
    restart = next(now for now, f in out if f and f.packet and f.packet.sequence_number == 1050)
    assert restart == pytest.approx(150 * FRAME + buffer.min_delay)


def test_short_silence_with_marker_re_anchors_at_the_talkspurt() -> None:
    # 1 s of speech, 100 ms of suppressed silence (5 frames), then a talkspurt with
    # the marker bit; every packet on time.
    arrivals = on_time(range(50)) + [
        (i * FRAME, packet(i, seq0=995, marker=i == 55)) for i in range(55, 105)
    ]
    buffer = JitterBuffer(min_delay=0.06)
    out = run(buffer, arrivals, until=2.2)
    assert audio_seqs(out) == list(range(1000, 1100))
    # Frame 49 plays at tick 52.  The tail after it is concealed until the marker
    # packet (arriving at tick 55) shows the gap was silence; then nothing plays until
    # its scheduled start, 60 ms after its arrival.
    gap = [f.kind if f else None for _, f in out[53:59]]
    assert gap == [FrameKind.CONCEALMENT] * 2 + [None] * 3 + [FrameKind.AUDIO]
    assert out[58][1] is not None and out[58][1].packet == arrivals[50][1]
    assert buffer.delay == pytest.approx(0.06)


def test_burst_beyond_capacity_drops_the_oldest() -> None:
    buffer = JitterBuffer()
    for i in range(30):
        buffer.put(packet(i), 0.0)
    assert buffer.dropped == 30 - buffer.capacity
    frame = buffer.pop(0.02)
    assert frame is not None and frame.packet == packet(30 - buffer.capacity)


def test_nothing_to_play_before_the_first_packet() -> None:
    buffer = JitterBuffer()
    assert buffer.pop(0.0) is None
    assert buffer.state is PlayoutState.IDLE


def test_bad_configuration() -> None:
    with pytest.raises(ValueError, match="min_delay"):
        JitterBuffer(min_delay=0.3, max_delay=0.2)


@pytest.mark.peer
def test_sipp_capture_plays_every_30_ms_frame() -> None:
    datagrams = read_udp(SIPP_PCAPS / "g711a.pcap")
    t0 = datagrams[0].time
    arrivals = [(d.time - t0, RtpPacket.parse(d.payload)) for d in datagrams]
    buffer = JitterBuffer(frame_samples=240, min_delay=0.03)
    out = run(buffer, arrivals, until=arrivals[-1][0] + 0.1, period=0.03)
    assert audio_seqs(out) == [p.sequence_number for _, p in arrivals]
    assert buffer.late == 0


# --- concealment ----------------------------------------------------------------------


def test_conceal_repeats_then_fades_to_silence() -> None:
    last = np.full(160, 1000, dtype=np.int16)
    first = conceal(last, 1)
    assert first.dtype == np.int16
    assert (first[:80] == 1000).all()  # full level for 10 ms
    assert first[79] > first[159] == pytest.approx(1000 * (1 - 80 / 400), abs=3)
    second = conceal(last, 2)
    assert second[0] == pytest.approx(first[159] - 1000 / 400 * 1, abs=3)
    third = conceal(last, 3)
    assert third[-1] == pytest.approx(1000 * (1 - 400 / 400), abs=3)
    assert not conceal(last, 4).any()
    assert not conceal(last, 50).any()


def test_conceal_rejects_zero() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        conceal(np.zeros(160, dtype=np.int16), 0)


# --- property: random arrival orders and times --------------------------------------

events = st.lists(
    st.tuples(
        st.integers(0, 60),  # frame index
        st.floats(0, 2.0, allow_nan=False),  # arrival time
        st.booleans(),  # marker
    ),
    max_size=120,
)


@settings(max_examples=150, deadline=None)
@given(events, st.sampled_from([None, lambda p: p.sequence_number % 3 == 0]))
def test_random_arrivals_never_crash_or_replay_a_frame(
    arrivals: list[tuple[int, float, bool]], silent: Callable[[RtpPacket], bool] | None
) -> None:
    buffer = JitterBuffer(silent=silent)
    script = [(at, packet(index, seq0=65500, ts0=0xFFFFF000, marker=marker))
              for index, at, marker in arrivals]  # fmt: skip
    out = run(buffer, script, until=2.5)
    seqs = audio_seqs(out)
    assert len(seqs) == len(set(seqs))  # never twice
    extended = [(s - 65500) & 0xFFFF for s in seqs]
    assert extended == sorted(extended)  # always in order
    assert buffer.played == len(seqs)
    assert len(buffer._frames) <= buffer.capacity
