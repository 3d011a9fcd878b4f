"""Adaptive playout buffer for fixed-duration audio frames (sans-IO, time passed in).

The engine calls `JitterBuffer.put` for every received RTP packet and `JitterBuffer.pop`
once per frame period (every 20 ms by default); both take the caller's clock ``now``
in seconds, so tests drive the buffer with a fake clock.  Packets are stored in
*slots*: slot ``n`` holds the frame whose RTP timestamp is ``n`` frames after the
first packet of the stream, so loss, reordering and duplicates are all decided by
comparing slots with the playout cursor.

How the playout delay adapts (the choice this module makes):

* The target delay is ``JITTER_FACTOR`` times the interarrival jitter estimate
  (RFC 3550 A.8 smoothing, in seconds), clamped to ``[min_delay, max_delay]``.
  For jitter with standard deviation s the estimate is about 1.13 s, so four times
  it is about 4.5 s: room for the spread between an early and a late packet.  The
  target is where the delay is steered to, and the ceiling for growing it.
* The delay is re-anchored at every talkspurt start: the first packet of a talkspurt
  (marker bit, a timestamp jump with contiguous sequence numbers, or the first packet
  after the buffer ran idle) is played ``target`` seconds after it arrived.  The
  silence before it absorbs the change, so nobody hears it.
* Continuous streams (no silence suppression, common from PSTN gateways) have no
  talkspurts.  There the delay grows on demand: when the expected frame is missing
  at playout time (late or lost) and the delay is below target, the concealment
  frame is played without advancing the cursor, so a late packet still plays next.
  That frame would have been concealed anyway, so growing costs nothing audible.
  Delay shrinks, and grows ahead of demand, only during silence: with a ``silent``
  predicate (supplied by the codec layer, which can tell silence from speech), a
  silent frame is dropped when the delay is a frame above target, or held for one
  period when a frame below.  Without a predicate a continuous stream keeps its
  delay until the next idle period.
* ``delay`` is the playout delay of the current talkspurt measured from its first
  packet's arrival, plus or minus the frames inserted and dropped since.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import numpy as np

from media.rtp.packet import RtpPacket
from media.rtp.seq import extend_ts, seq_diff

JITTER_FACTOR = 4.0
JITTER_GAIN = 1 / 16  # RFC 3550 A.8 smoothing of the interarrival jitter
MAX_MISORDER = 100  # RFC 3550 A.1: an older sequence number within this is a late packet
_TIME_EPSILON = 1e-6  # a start due within a microsecond is due: float sums of periods drift


class FrameKind(Enum):
    """What `JitterBuffer.pop` hands the decoder."""

    AUDIO = "audio"  # the payload of the next frame in order
    CONCEALMENT = "concealment"  # the expected frame is missing: run packet loss concealment


class PlayoutState(Enum):
    """Playout states (the transitions are in `JitterBuffer`'s methods, one rule each).

    IDLE -> BUFFERING: a packet arrives (it starts a talkspurt).
    BUFFERING -> PLAYING: a pop at or after the talkspurt's scheduled start.
    PLAYING -> BUFFERING: the next buffered frame starts a new talkspurt.
    PLAYING -> IDLE: the buffer stayed empty for ``capacity`` frame periods.
    """

    IDLE = "idle"
    BUFFERING = "buffering"
    PLAYING = "playing"


@dataclass(frozen=True, slots=True)
class PlayoutFrame:
    """One frame period of output: a packet's payload, or a concealment marker.

    ``timestamp`` is the RTP timestamp of the frame slot; ``consecutive_lost``
    counts concealed frames in a row (1 for the first), for `conceal`.
    """

    kind: FrameKind
    timestamp: int
    packet: RtpPacket | None = None
    consecutive_lost: int = 0

    @property
    def payload(self) -> bytes | None:
        """The encoded audio, None for a concealment frame."""
        return self.packet.payload if self.packet is not None else None


@dataclass(frozen=True, slots=True)
class JitterBufferStats:
    """Counters of a `JitterBuffer`; delays in seconds."""

    played: int
    concealed: int
    late: int
    duplicate: int
    reordered: int
    dropped: int
    inserted: int
    resets: int
    delay: float
    target_delay: float
    jitter: float


class JitterBuffer:
    """Adaptive playout buffer for one RTP audio stream; see the module docstring."""

    def __init__(
        self,
        clock_rate: int = 8000,
        frame_samples: int = 160,
        min_delay: float = 0.02,
        max_delay: float = 0.2,
        silent: Callable[[RtpPacket], bool] | None = None,
    ) -> None:
        if not 0 < min_delay <= max_delay:
            raise ValueError(f"need 0 < min_delay <= max_delay, got {min_delay}, {max_delay}")
        self.clock_rate = clock_rate
        self.frame_samples = frame_samples
        self.frame_duration = frame_samples / clock_rate
        self.min_delay = min_delay
        self.max_delay = max_delay
        self._silent = silent
        # Frames held at most: the largest delay plus two frames of reordering slack.
        self.capacity = math.ceil(max_delay / self.frame_duration) + 2
        self.played = self.concealed = self.late = self.duplicate = self.reordered = 0
        self.dropped = self.inserted = self.resets = 0
        self.jitter = 0.0
        self.delay = 0.0
        self.state = PlayoutState.IDLE
        self._ssrc: int | None = None
        self._frames: dict[int, RtpPacket] = {}
        self._spurts: dict[int, float] = {}  # slot of a talkspurt's first packet -> arrival
        self._played_ring = [-1 << 62] * 64  # slots recently played, to tell late from dup
        self._origin = self._ts_ref = self._cursor = 0
        self._high_seq = self._high_slot = self._lost_run = 0
        self._start_at = self._spurt_arrival = 0.0
        self._last_arrival: float | None = None
        self._last_ext = 0
        self._clear_stream(0, 0)

    @property
    def target_delay(self) -> float:
        """The delay the buffer steers to: the jitter estimate times ``JITTER_FACTOR``."""
        return min(max(JITTER_FACTOR * self.jitter, self.min_delay), self.max_delay)

    def stats(self) -> JitterBufferStats:
        """A snapshot of the counters."""
        return JitterBufferStats(
            self.played, self.concealed, self.late, self.duplicate, self.reordered,
            self.dropped, self.inserted, self.resets, self.delay, self.target_delay,
            self.jitter,
        )  # fmt: skip

    # --- input ----------------------------------------------------------------------

    def put(self, packet: RtpPacket, now: float) -> bool:
        """Buffer a received packet; False if it was dropped (late or duplicate)."""
        if packet.ssrc != self._ssrc:
            self._restart(packet)
        ext = extend_ts(packet.timestamp, self._ts_ref)
        slot = (ext - self._origin + self.frame_samples // 2) // self.frame_samples
        seq_delta = seq_diff(packet.sequence_number, self._high_seq)
        if self._jumped(slot, seq_delta):
            self._restart(packet)
            return self.put(packet, now)
        if slot < self._cursor or slot in self._frames:
            return self._reject(packet, slot, ext, now)
        self._update_jitter(ext, now)
        spurt = packet.marker or (seq_delta == 1 and slot > self._high_slot + 1)
        if seq_delta > 0:
            self._high_seq, self._high_slot, self._ts_ref = packet.sequence_number, slot, ext
        elif seq_delta < 0:
            self.reordered += 1
        self._store(packet, slot, spurt, now)
        return True

    def _jumped(self, slot: int, seq_delta: int) -> bool:
        """True if the packet's timestamp breaks with the timeline: restart it."""
        if slot < self._cursor:
            # Timestamps advance at least as fast as sequence numbers (faster across
            # suppressed silence), so a newer packet cannot have a much older timestamp.
            return seq_delta < -MAX_MISORDER or (
                seq_delta > 0 and slot < self._high_slot + seq_delta - 2 * self.capacity
            )
        if not self._frames:
            return False  # a jump ahead after silence simply starts a talkspurt
        # Queued frames and a timestamp far beyond them: not silence, a discontinuity.
        reference = self._cursor if self.state is PlayoutState.PLAYING else min(self._frames)
        return slot >= reference + 2 * self.capacity

    def _reject(self, packet: RtpPacket, slot: int, ext: int, now: float) -> bool:
        if slot in self._frames or self._played_ring[slot & 63] == slot:
            self.duplicate += 1
        else:
            self.late += 1
            self._update_jitter(ext, now)  # late packets are the evidence for more delay
        return False

    def _store(self, packet: RtpPacket, slot: int, spurt: bool, now: float) -> None:
        self._frames[slot] = packet
        if self.state is PlayoutState.IDLE:
            self._schedule(now)
        elif spurt and self.state is PlayoutState.PLAYING:
            self._spurts[slot] = now
        if len(self._frames) > self.capacity:
            oldest = min(self._frames)
            del self._frames[oldest]
            self._spurts.pop(oldest, None)
            self.dropped += 1
            self._cursor = max(self._cursor, oldest + 1)

    def _update_jitter(self, ext: int, now: float) -> None:
        if self._last_arrival is not None:
            transit_change = (now - self._last_arrival) - (ext - self._last_ext) / self.clock_rate
            self.jitter += (abs(transit_change) - self.jitter) * JITTER_GAIN
        self._last_arrival, self._last_ext = now, ext

    # --- output ---------------------------------------------------------------------

    def pop(self, now: float) -> PlayoutFrame | None:
        """The frame to play now, or None when there is nothing to play (silence)."""
        if self.state is PlayoutState.IDLE:
            return None
        if self.state is PlayoutState.BUFFERING:
            if now < self._start_at - _TIME_EPSILON or not self._frames:
                return None
            self._begin(now)
        return self._play_next(now)

    def _play_next(self, now: float) -> PlayoutFrame | None:
        packet = self._frames.pop(self._cursor, None)
        if packet is None:
            return self._missing(now)
        if self._silent is not None and self._silent(packet):
            adjusted = self._adapt_in_silence(packet)
            if adjusted is not packet:
                return self._output(adjusted) if adjusted is not None else None
        return self._output(packet)

    def _output(self, packet: RtpPacket) -> PlayoutFrame:
        self._spurts.pop(self._cursor, None)
        self._played_ring[self._cursor & 63] = self._cursor
        frame = PlayoutFrame(FrameKind.AUDIO, self._slot_timestamp(self._cursor), packet)
        self._cursor += 1
        self._lost_run = 0
        self.played += 1
        return frame

    def _adapt_in_silence(self, packet: RtpPacket) -> RtpPacket | None:
        """Drop a silent frame (return the next) or hold it (None) to move toward target."""
        target = self.target_delay
        following = self._frames.get(self._cursor + 1)
        if self.delay >= target + self.frame_duration and following is not None:
            self._played_ring[self._cursor & 63] = self._cursor  # gone: a copy is a duplicate
            self._cursor += 1
            del self._frames[self._cursor]
            self.dropped += 1
            self.delay -= self.frame_duration
            return following
        if self.delay + self.frame_duration <= target:
            self._frames[self._cursor] = packet  # play it one period later
            self.inserted += 1
            self.delay += self.frame_duration
            return None
        return packet

    def _missing(self, now: float) -> PlayoutFrame | None:
        if self._frames:
            first = min(self._frames)
            if first in self._spurts:
                # Silence up to a new talkspurt: re-anchor instead of concealing.
                self._schedule(self._spurts.pop(first))
                self._cursor = first
                return self.pop(now)
        elif self._lost_run >= self.capacity:
            self.state = PlayoutState.IDLE
            self._lost_run = 0
            return None
        # Below target, wait for the frame (it is more likely late than lost): the
        # concealment is played either way, and the delay grows by one frame.
        grow = self.delay + self.frame_duration / 2 <= self.target_delay
        if grow:
            self.inserted += 1
            self.delay += self.frame_duration
        return self._conceal(advance=not grow)

    def _conceal(self, advance: bool) -> PlayoutFrame:
        self._lost_run += 1
        self.concealed += 1
        frame = PlayoutFrame(
            FrameKind.CONCEALMENT, self._slot_timestamp(self._cursor), None, self._lost_run
        )
        if advance:
            self._cursor += 1
        return frame

    # --- timeline -------------------------------------------------------------------

    def _schedule(self, arrival: float) -> None:
        """Start a talkspurt whose first packet arrived at ``arrival``."""
        self.state = PlayoutState.BUFFERING
        self._spurt_arrival = arrival
        self._start_at = arrival + self.target_delay

    def _begin(self, now: float) -> None:
        self.state = PlayoutState.PLAYING
        self._cursor = min(self._frames)
        self._spurts.pop(self._cursor, None)
        self.delay = now - self._spurt_arrival
        self._lost_run = 0

    def _restart(self, packet: RtpPacket) -> None:
        """Forget the old timeline: a new SSRC, or a timestamp jump."""
        if self._ssrc is not None:
            self.resets += 1
            self.dropped += len(self._frames)  # queued frames of the old timeline
        self._ssrc = packet.ssrc
        self._clear_stream(packet.timestamp, packet.sequence_number)

    def _clear_stream(self, timestamp: int, sequence_number: int) -> None:
        self._frames.clear()
        self._spurts.clear()
        self.state = PlayoutState.IDLE
        self._origin = self._ts_ref = timestamp
        # Slot 0 is the first packet; earlier slots within capacity may still arrive.
        self._cursor = -self.capacity
        self._high_seq = (sequence_number - 1) & 0xFFFF
        self._high_slot = -1
        self._lost_run = 0
        self._start_at = self._spurt_arrival = 0.0
        self._last_arrival = None
        self._last_ext = 0

    def _slot_timestamp(self, slot: int) -> int:
        return (self._origin + slot * self.frame_samples) & 0xFFFFFFFF


# G.711 Appendix I fades a concealed signal from 10 ms into the loss at 20% per 10 ms,
# so it is silent from 60 ms on; the simple repeat below follows the same envelope.
_FADE_START = 0.010
_FADE_LENGTH = 0.050


def conceal(last_pcm: np.ndarray, consecutive_lost: int, clock_rate: int = 8000) -> np.ndarray:
    """Packet loss concealment for one frame: the last good frame, faded out.

    ``consecutive_lost`` is 1 for the first missing frame (see
    `PlayoutFrame.consecutive_lost`).  The repeat is at full level for the first
    10 ms of the loss, then falls linearly to silence at 60 ms, as in G.711
    Appendix I; pure function, int16 in and out.
    """
    if consecutive_lost < 1:
        raise ValueError(f"consecutive_lost must be at least 1, got {consecutive_lost}")
    size = len(last_pcm)
    elapsed = (consecutive_lost - 1) * size  # samples since the loss began
    fade_start = _FADE_START * clock_rate
    if elapsed >= fade_start + _FADE_LENGTH * clock_rate:
        return np.zeros(size, dtype=np.int16)
    position = np.arange(elapsed, elapsed + size, dtype=np.float32)
    gain = np.clip(1 - (position - fade_start) / (_FADE_LENGTH * clock_rate), 0, 1)
    return (last_pcm * gain).astype(np.int16)
