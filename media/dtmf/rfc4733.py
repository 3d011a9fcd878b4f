"""DTMF over RTP: the ``telephone-event`` payload of RFC 4733 (which obsoletes RFC 2833).

Sans-IO and independent of any RTP packet class: the receiver takes the payload bytes,
RTP timestamp and marker bit of each packet whose payload type was negotiated as
``telephone-event``; the sender returns payloads with the timestamp and marker to put in
the RTP header.  The RTP layer supplies sequence numbers, SSRC and the clock.

One key press is one *event instance*, named by its RTP timestamp (§2.5.1.2): the first
packet starts it (its marker bit set, §2.5.1.1), later packets repeat the timestamp with a
growing duration, and the end packet (E bit) is sent three times (§2.5.1.4).  Events longer
than the 16-bit duration field (0xFFFF samples, 8.19 s at 8 kHz) are cut into contiguous
segments, each with its own timestamp (§2.5.1.3).

Not handled: RFC 2198 redundancy (``audio/red`` wrapping telephone-events) arrives under
the RED payload type; the RTP layer would have to unwrap it and pass each redundant block
here with its reconstructed timestamp -- repeated blocks are then ignored like any other
retransmission.  Several event blocks packed into one packet (§2.5.1.5) are read, each
starting where the previous one ended.
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass

from .errors import DtmfError, DtmfUsageError
from .events import DIGITS, DtmfDigit

__all__ = [
    "TelephoneEvent",
    "TelephoneEventPacket",
    "TelephoneEventReceiver",
    "TelephoneEventSender",
    "event_code",
    "parse_payload",
]

#: Largest value of the 16-bit duration field (§2.3.5); longer events are segmented.
MAX_DURATION = 0xFFFF
#: Copies of the final packet of an event or segment (§2.5.1.4).
END_COPIES = 3

_BLOCK = struct.Struct("!BBH")
_TS_MASK = 0xFFFFFFFF
_HALF_TS = 0x80000000


def event_code(digit: str) -> int:
    """The RFC 4733 §3.2 event code of a DTMF key (``"0"``-``"9"``, ``*``, ``#``, ``A``-``D``)."""
    code = DIGITS.find(digit.upper()) if len(digit) == 1 else -1
    if code < 0:
        raise DtmfUsageError(f"not a DTMF digit: {digit!r} (expected one of {DIGITS})")
    return code


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    """One 4-byte event block (RFC 4733 §2.3): ``event``, E bit, volume, duration.

    ``volume`` is the power level in -dBm0 (0-63, §2.3.4); ``duration`` is in RTP
    timestamp units from the packet's timestamp (§2.3.5).  The R bit is sent as zero and
    ignored on receipt (§2.3.3).
    """

    event: int
    end: bool
    volume: int
    duration: int

    def __post_init__(self) -> None:
        if not (0 <= self.event <= 0xFF and 0 <= self.volume <= 0x3F):
            raise DtmfUsageError(f"event {self.event} / volume {self.volume} out of range")
        if not 0 <= self.duration <= MAX_DURATION:
            raise DtmfUsageError(f"duration {self.duration} out of range 0..{MAX_DURATION}")

    @classmethod
    def parse(cls, block: bytes) -> TelephoneEvent:
        """Read one 4-byte block; :class:`DtmfError` if it is not 4 bytes."""
        if len(block) != _BLOCK.size:
            raise DtmfError(f"telephone-event block is {len(block)} bytes, expected 4")
        event, flags, duration = _BLOCK.unpack(block)
        return cls(event, bool(flags & 0x80), flags & 0x3F, duration)

    def __bytes__(self) -> bytes:
        return _BLOCK.pack(self.event, (0x80 if self.end else 0) | self.volume, self.duration)


def parse_payload(payload: bytes) -> list[TelephoneEvent]:
    """All event blocks of one telephone-event payload, or :class:`DtmfError`.

    The payload is one block, or several packed back to back (§2.5.1.5), where every
    block but the last describes a finished event and so must carry the E bit.
    """
    size = len(payload)
    if size == 0 or size % _BLOCK.size:
        raise DtmfError(f"telephone-event payload is {size} bytes, not a multiple of 4")
    blocks = [TelephoneEvent.parse(payload[i : i + 4]) for i in range(0, size, 4)]
    for index, block in enumerate(blocks[:-1]):
        if not block.end:
            raise DtmfError(f"telephone-event block {index + 1} of {len(blocks)} lacks the E bit")
    return blocks


def _is_before(a: int, b: int) -> bool:
    """RTP timestamp ``a`` precedes ``b``, modulo 2**32 (RFC 3550 §5.1 wrap-around)."""
    return 0 < ((b - a) & _TS_MASK) < _HALF_TS


@dataclass(slots=True)
class _Instance:
    """The event being received: one key press, possibly spanning several segments."""

    event: int
    timestamp: int  # of the current segment
    started_at: float
    last_packet_at: float
    base: int = 0  # samples of earlier segments (and of wraps by non-compliant senders)
    segment: int = 0  # largest duration field seen for the current segment


class TelephoneEventReceiver:
    """Turns received telephone-event packets into one :class:`DtmfDigit` per key press.

    ``clock_rate`` is the RTP clock of the negotiated ``telephone-event`` format;
    ``end_timeout`` is how long after its last packet an event whose end packets were all
    lost is declared over (a new event ends it sooner).  Events other than the sixteen
    DTMF keys (e.g. 16, hook flash) are tracked the same way but only counted, in
    :attr:`ignored_events`.
    """

    def __init__(self, clock_rate: int = 8000, end_timeout: float = 0.3) -> None:
        if clock_rate <= 0 or end_timeout <= 0:
            raise DtmfUsageError("clock_rate and end_timeout must be positive")
        self.clock_rate = clock_rate
        self.end_timeout = end_timeout
        #: Finished non-DTMF event instances (hook flash, tones...), counted once each.
        self.ignored_events = 0
        self._current: _Instance | None = None
        # Timestamps of recent instances and segments: their retransmitted end packets and
        # late updates must not start a new digit.
        self._seen: deque[int] = deque(maxlen=16)
        # A segment shorter than the maximum by this much may still have been full: its
        # last updates were lost (§2.5.1.3 segments are 0xFFFF long).
        self._segment_slack = clock_rate // 10

    def receive(self, payload: bytes, timestamp: int, marker: bool, now: float) -> list[DtmfDigit]:
        """Feed one packet; returns the digits it completed (usually none or one).

        Raises :class:`DtmfError` for a malformed payload, leaving the state untouched.
        """
        blocks = parse_payload(payload)
        digits: list[DtmfDigit] = []
        start = timestamp & _TS_MASK
        for block in blocks:
            self._on_block(block, start, marker, now, digits)
            start = (start + block.duration) & _TS_MASK
        return digits

    def next_timer(self) -> float | None:
        """When :meth:`handle_timer` should next run, or None while no event is open."""
        current = self._current
        return None if current is None else current.last_packet_at + self.end_timeout

    def handle_timer(self, now: float) -> list[DtmfDigit]:
        """Ends an event whose end packets never came; returns its digit, if it was one."""
        deadline = self.next_timer()
        digits: list[DtmfDigit] = []
        if deadline is not None and now >= deadline:
            self._finish(digits)
        return digits

    # -- internals ------------------------------------------------------------------------

    def _on_block(
        self, block: TelephoneEvent, timestamp: int, marker: bool, now: float, out: list[DtmfDigit]
    ) -> None:
        current = self._current
        if current is not None and timestamp == current.timestamp:
            self._update(current, block, now, out)
        elif timestamp in self._seen:
            pass  # retransmitted end packet or late update of a finished event
        elif current is not None and self._continues(current, block, timestamp):
            current.base += (timestamp - current.timestamp) & _TS_MASK
            current.timestamp, current.segment = timestamp, 0
            self._seen.append(timestamp)
            self._update(current, block, now, out)
        elif marker or not self._seen or _is_before(self._seen[-1], timestamp):
            if current is not None:
                self._finish(out)  # a new event ends one whose end packets were lost
            self._start(block, timestamp, now, out)
        # else: an update of an older event, arriving after a newer one began -- dropped.

    def _continues(self, current: _Instance, block: TelephoneEvent, timestamp: int) -> bool:
        """``timestamp`` starts the next segment of a long ``current`` event (§2.5.1.3)."""
        delta = (timestamp - current.timestamp) & _TS_MASK
        return (
            block.event == current.event
            and current.segment >= MAX_DURATION - self._segment_slack
            and current.segment <= delta <= MAX_DURATION
        )

    def _start(
        self, block: TelephoneEvent, timestamp: int, now: float, out: list[DtmfDigit]
    ) -> None:
        self._current = _Instance(block.event, timestamp, started_at=now, last_packet_at=now)
        self._seen.append(timestamp)
        self._update(self._current, block, now, out)

    def _update(
        self, current: _Instance, block: TelephoneEvent, now: float, out: list[DtmfDigit]
    ) -> None:
        current.last_packet_at = now
        if current.segment - block.duration > MAX_DURATION // 2:
            # RFC 2833-era senders let the field wrap under one timestamp: count it once.
            current.base += MAX_DURATION + 1
            current.segment = block.duration
        elif block.duration > current.segment:  # smaller values are reordered updates
            current.segment = block.duration
        if block.end:
            self._finish(out)

    def _finish(self, out: list[DtmfDigit]) -> None:
        current, self._current = self._current, None
        if current is None:
            return
        if current.event >= len(DIGITS):
            self.ignored_events += 1
            return
        samples = current.base + current.segment
        duration_ms = round(samples * 1000 / self.clock_rate)
        out.append(DtmfDigit(DIGITS[current.event], "rfc4733", duration_ms, current.started_at))


@dataclass(frozen=True, slots=True)
class TelephoneEventPacket:
    """One RTP packet to send: its payload, RTP timestamp and marker bit.

    ``is_end`` marks the copies of the event's final packet (E bit set).
    """

    payload: bytes
    timestamp: int
    marker: bool
    is_end: bool


class TelephoneEventSender:
    """Builds the telephone-event packets of one key press (RFC 4733 §2.5.1).

    ``payload_type`` is the dynamic payload type negotiated for ``telephone-event`` (kept
    here for the RTP layer); ``clock_rate`` its RTP clock; ``packet_ms`` the interval
    between updates, normally the audio packetization time.
    """

    def __init__(self, payload_type: int, clock_rate: int = 8000, packet_ms: int = 20) -> None:
        if not 0 <= payload_type <= 127:
            raise DtmfUsageError(f"payload type {payload_type} out of range 0..127")
        if clock_rate <= 0 or packet_ms <= 0 or clock_rate * packet_ms < 1000:
            raise DtmfUsageError("clock_rate and packet_ms must be positive")
        self.payload_type = payload_type
        self.clock_rate = clock_rate
        self.packet_ms = packet_ms

    def packets(
        self, digit: str, start_timestamp: int, duration_ms: int = 100, volume: int = 10
    ) -> list[TelephoneEventPacket]:
        """The packets of ``digit`` held ``duration_ms``, to send one every ``packet_ms``.

        All carry ``start_timestamp`` (the RTP clock must not advance during the event,
        §2.5.1.2), the first has the marker bit, each reports the duration so far, and the
        final one is sent three times (§2.5.1.4) -- at the same interval, so that a burst
        loss cannot take all three.  Each packet gets the next RTP sequence number.  Events
        longer than 0xFFFF samples continue in segments starting 0xFFFF later (§2.5.1.3).
        ``volume`` is the tone level in -dBm0 (0-63).
        """
        code = event_code(digit)
        if duration_ms <= 0:
            raise DtmfUsageError(f"duration must be positive, not {duration_ms} ms")
        if not 0 <= volume <= 0x3F:
            raise DtmfUsageError(f"volume {volume} out of range 0..63 (-dBm0)")
        remaining = max(1, round(duration_ms * self.clock_rate / 1000))
        timestamp = start_timestamp & _TS_MASK
        packets: list[TelephoneEventPacket] = []
        while True:
            length = min(remaining, MAX_DURATION)
            last = remaining == length
            packets += self._segment(code, volume, timestamp, length, last, first=not packets)
            if last:
                return packets
            remaining -= MAX_DURATION
            timestamp = (timestamp + MAX_DURATION) & _TS_MASK

    def _segment(
        self, code: int, volume: int, timestamp: int, length: int, last: bool, first: bool
    ) -> list[TelephoneEventPacket]:
        """Updates every packet interval, then the segment's final packet three times.

        A segment that is not the event's last ends without the E bit (§2.5.1.3).
        """
        step = self.clock_rate * self.packet_ms // 1000
        durations = list(range(step, length, step))
        packets = [
            TelephoneEventPacket(
                bytes(TelephoneEvent(code, False, volume, d)), timestamp, first and i == 0, False
            )
            for i, d in enumerate(durations)
        ]
        final = bytes(TelephoneEvent(code, last, volume, length))
        for _ in range(END_COPIES):
            packets.append(TelephoneEventPacket(final, timestamp, first and not packets, last))
        return packets
