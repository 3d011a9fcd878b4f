"""One call's RTP stream, sans-IO: what comes in (stats, DTMF, audio) and what goes out.

The asyncio edge (:mod:`media.engine`) hands every datagram to
:meth:`MediaLeg.receive`; the engine's single 20 ms ticker asks
:meth:`MediaLeg.tick` for the packet to send.  Per-packet work is kept small:
a received voice packet is only decoded when someone listens (a jitter buffer
is attached for ASR, recording, bridging or in-band DTMF); otherwise it just
updates the statistics.
"""

from __future__ import annotations

import random
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from .codecs import Codec
from .dtmf.errors import DtmfError, DtmfUsageError
from .dtmf.events import DtmfDigit
from .dtmf.inband import InbandDetector
from .dtmf.rfc4733 import (
    TelephoneEventPacket,
    TelephoneEventReceiver,
    TelephoneEventSender,
    event_code,
)
from .rtp.jitterbuffer import FrameKind, JitterBuffer, conceal
from .rtp.packet import RtpError, RtpPacket
from .rtp.rtcp import (
    ReceiverReport,
    RtcpError,
    SenderReport,
    SourceDescription,
    ntp_from_unix,
    parse_rtcp,
    round_trip_time,
    serialize_rtcp,
)
from .rtp.stats import ReceiverStats, estimate_mos

FRAME_SAMPLES = 160  # 20 ms at 8 kHz
#: what listeners hear in a frame period with no audio (shared, so never written to)
SILENT_FRAME = np.zeros(FRAME_SAMPLES, dtype=np.int16)
SILENT_FRAME.flags.writeable = False
_HEADER = struct.Struct("!BBHII")

Address = tuple[str, int]


class FrameSource(Protocol):
    """Anything that yields 20 ms int16 frames: a prompt player, a bridge, a tone."""

    def next_frame(self) -> np.ndarray | None: ...


@dataclass
class LegStats:
    """Send-side counters (the receive side is :class:`ReceiverStats`)."""

    packets_sent: int = 0
    octets_sent: int = 0
    dtmf_sent: int = 0


@dataclass(eq=False)
class MediaLeg:
    """The media state of one call leg (compared by identity: it holds live state)."""

    codec: Codec
    payload_type: int
    telephone_event_pt: int | None
    remote: Address | None
    on_digit: Callable[[DtmfDigit], None]
    ssrc: int = field(default_factory=lambda: random.getrandbits(32))
    sequence: int = field(default_factory=lambda: random.getrandbits(16))
    timestamp: int = field(default_factory=lambda: random.getrandbits(32))
    #: where the outgoing audio comes from; None sends comfort silence
    source: FrameSource | None = None
    #: remote address learnt from the first packets (symmetric RTP, for NAT)
    latched: bool = False
    inband_dtmf: bool = False
    receiver: ReceiverStats = field(default_factory=ReceiverStats)
    sent: LegStats = field(default_factory=LegStats)
    jitter: JitterBuffer | None = None
    listeners: list[Callable[[np.ndarray], None]] = field(default_factory=list)
    #: called every tick with (what the caller said, what we sent); None is silence
    recorder: Callable[[np.ndarray | None, np.ndarray | None], None] | None = None
    _events_rx: TelephoneEventReceiver = field(default_factory=TelephoneEventReceiver)
    _events_tx: deque[TelephoneEventPacket] = field(default_factory=deque)
    _digits_tx: deque[tuple[str, int]] = field(default_factory=deque)
    _inband: InbandDetector | None = None
    _silence: bytes = b""
    _last_pcm: np.ndarray | None = None
    rtt_ms: float | None = None
    _sent_pcm: np.ndarray | None = None
    _event_ticks: int = 0

    def __post_init__(self) -> None:
        self._silence = self.codec.encode(np.zeros(FRAME_SAMPLES, dtype=np.int16))
        if self.inband_dtmf:
            self._inband = InbandDetector()
            self.attach_jitter_buffer()

    # -- receive --------------------------------------------------------------------

    def receive(self, data: bytes, addr: Address, now: float) -> None:
        """One RTP datagram from ``addr`` (RTCP is routed elsewhere).

        The common packet (version 2, no padding, CSRC or extension) is read
        straight from its 12-byte header; anything else goes through
        :meth:`RtpPacket.parse`.
        """
        if len(data) >= 12 and data[0] == 0x80:
            _, second, seq, timestamp, ssrc = _HEADER.unpack_from(data)
            payload_type, marker, offset = second & 0x7F, bool(second & 0x80), 12
        else:
            try:
                packet = RtpPacket.parse(data)
            except RtpError:
                self.receiver.invalid += 1
                return
            payload_type, marker, seq = packet.payload_type, packet.marker, packet.sequence_number
            timestamp, ssrc = packet.timestamp, packet.ssrc
            data, offset = packet.payload, 0  # CSRCs, extension and padding stripped
        if not self.latched:  # symmetric RTP: answer where the caller's packets come from
            self.remote, self.latched = addr, True
        self.receiver.observe(ssrc, seq, timestamp, len(data) - offset, now)
        if payload_type == self.payload_type:
            if self.jitter is not None:
                packet = RtpPacket(payload_type, seq, timestamp, ssrc, data[offset:], marker)
                self.jitter.put(packet, now)
        elif payload_type == self.telephone_event_pt:
            self._receive_event(data[offset:], timestamp, marker, now)

    def _receive_event(self, payload: bytes, timestamp: int, marker: bool, now: float) -> None:
        try:
            digits = self._events_rx.receive(payload, timestamp, marker, now)
        except DtmfError:
            return
        for digit in digits:
            self.on_digit(digit)

    def attach_jitter_buffer(self) -> None:
        """Start decoding received audio (someone listens: ASR, recorder, bridge)."""
        if self.jitter is None:
            self.jitter = JitterBuffer(clock_rate=self.codec.clock_rate)

    # -- the 20 ms tick -----------------------------------------------------------

    def tick(self, now: float) -> bytes | None:
        """Play out one received frame to the listeners, and return the packet to send."""
        heard = self._play_out(now) if self.jitter is not None else None
        for digit in self._events_rx.handle_timer(now):
            self.on_digit(digit)
        self._sent_pcm = None
        packet: bytes | None = None
        if self.remote is not None:
            packet = self._next_packet()
        else:
            self._idle()
        if self.recorder is not None:
            self.recorder(heard, self._sent_pcm)
        return packet

    def _play_out(self, now: float) -> np.ndarray | None:
        assert self.jitter is not None
        frame = self.jitter.pop(now)
        if frame is None:
            self._hear_silence()
            return None
        if frame.kind is FrameKind.AUDIO and frame.packet is not None:
            pcm = self.codec.decode(frame.packet.payload)
        elif self._last_pcm is not None:
            pcm = conceal(self._last_pcm, frame.consecutive_lost)
        else:
            self._hear_silence()
            return None
        self._last_pcm = pcm
        if self._inband is not None:
            for digit in self._inband.feed(pcm, now):
                self.on_digit(digit)
        for listener in self.listeners:
            listener(pcm)
        return pcm

    def _hear_silence(self) -> None:
        """Nothing arrived for this frame: listeners still get one, a silent one.

        Callers' phones that suppress silence (or stop sending) must not stop the clock
        of whoever listens: the speech endpointer counts frames for end of utterance
        and no-input.
        """
        for listener in self.listeners:
            listener(SILENT_FRAME)

    def _idle(self) -> None:
        """Nowhere to send (on hold, no address yet): the media clock and the source run on.

        A prompt thus still ends in time (and ``Call.play`` returns); an RFC 4733 event
        under way is cut short (the peer times it out); queued digits wait.
        """
        if self._events_tx:
            self._events_tx.clear()
            self._advance(self._event_ticks * FRAME_SAMPLES)
            self._event_ticks = 0
        if self.source is not None and self.source.next_frame() is None:
            self.source = None
        self._advance()

    def _next_packet(self) -> bytes:
        if self._digits_tx and not self._events_tx:
            self._start_next_digit()
        if self._events_tx:
            # Every packet of one event (segment, past 0xFFFF samples) carries its start
            # timestamp (RFC 4733 §2.5.1.2-3); voice resumes with the time the event took.
            event = self._events_tx.popleft()
            pt = self.telephone_event_pt or 101
            packet = self._packet(pt, event.payload, event.marker, event.timestamp)
            self._event_ticks += 1
            if not self._events_tx:
                self._advance(self._event_ticks * FRAME_SAMPLES)
                self._event_ticks = 0
            return packet
        payload = self._silence
        if self.source is not None:
            pcm = self.source.next_frame()
            if pcm is None:
                self.source = None
            else:
                payload = self.codec.encode(pcm)
                self._sent_pcm = pcm
        packet = self._packet(self.payload_type, payload, False, self.timestamp)
        self._advance()
        return packet

    def _packet(self, payload_type: int, payload: bytes, marker: bool, timestamp: int) -> bytes:
        header = _HEADER.pack(
            0x80, payload_type | (0x80 if marker else 0), self.sequence, timestamp, self.ssrc
        )
        self.sequence = (self.sequence + 1) & 0xFFFF
        self.sent.packets_sent += 1
        self.sent.octets_sent += len(payload)
        return header + payload

    def _advance(self, samples: int = FRAME_SAMPLES) -> None:
        self.timestamp = (self.timestamp + samples) & 0xFFFFFFFF

    # -- commands -----------------------------------------------------------------------

    def send_digit(self, digit: str, duration_ms: int = 100) -> None:
        """Queue an RFC 4733 digit; it replaces voice packets while it lasts.

        Raises ValueError (:class:`DtmfUsageError` for a bad digit or duration) here,
        not later in the engine's ticker.
        """
        if self.telephone_event_pt is None:
            raise ValueError("the peer did not negotiate telephone-event")
        event_code(digit)
        if duration_ms <= 0:
            raise DtmfUsageError(f"duration must be positive, not {duration_ms} ms")
        self._digits_tx.append((digit, duration_ms))

    def _start_next_digit(self) -> None:
        """Packets of the next queued digit, stamped with the current timestamp."""
        digit, duration_ms = self._digits_tx.popleft()
        sender = TelephoneEventSender(self.telephone_event_pt or 101, self.codec.clock_rate)
        self._events_tx.extend(sender.packets(digit, self.timestamp, duration_ms=duration_ms))
        self.sent.dtmf_sent += 1

    # -- RTCP (RFC 3550 §6.4) ---------------------------------------------------------

    def receive_rtcp(self, data: bytes, now: float) -> None:
        """A compound RTCP packet: the peer's SR (for our LSR/DLSR) and its view of us."""
        try:
            packets = parse_rtcp(data)
        except RtcpError:
            self.receiver.invalid += 1
            return
        for packet in packets:
            if isinstance(packet, SenderReport):
                self.receiver.update_sender_report(packet, now)
            if isinstance(packet, SenderReport | ReceiverReport):
                for block in packet.reports:
                    if block.ssrc == self.ssrc:
                        rtt = round_trip_time(block, time.time())
                        if rtt is not None:
                            self.rtt_ms = rtt * 1000

    def rtcp_report(self, now: float) -> bytes:
        """Our compound report: SR (we always send) with a block about the peer, and CNAME."""
        block = self.receiver.report_block(now)
        report = SenderReport(
            ssrc=self.ssrc,
            ntp_timestamp=ntp_from_unix(time.time()),
            rtp_timestamp=self.timestamp,
            packet_count=self.sent.packets_sent & 0xFFFFFFFF,
            octet_count=self.sent.octets_sent & 0xFFFFFFFF,
            reports=() if block is None else (block,),
        )
        cname = SourceDescription(()).with_cname(self.ssrc, f"hotline-{self.ssrc:08x}")
        return serialize_rtcp([report, cname])

    def quality(self) -> dict[str, float | int | str]:
        """Per-call figures for the call record (RFC 3550 A.3/A.8, E-model MOS)."""
        r = self.receiver
        loss = max(0, r.lost) / r.expected if r.expected else 0.0
        jitter_ms = r.jitter_ms(self.codec.clock_rate)
        figures: dict[str, float | int | str] = {
            "packets_received": r.packets,
            "packets_expected": r.expected,
            "packets_lost": max(0, r.lost),
            "loss_pct": round(100 * loss, 2),
            "jitter_ms": round(jitter_ms, 2),
            "duplicates": r.duplicates,
            "ssrc_changes": r.ssrc_changes,
            "packets_sent": self.sent.packets_sent,
            "mos": round(estimate_mos(loss, jitter_ms, self.rtt_ms, codec=self.codec.name), 2),
            "codec": self.codec.name,
        }
        if self.rtt_ms is not None:
            figures["rtt_ms"] = round(self.rtt_ms, 1)
        return figures
