"""RTP reception and sending statistics (RFC 3550 Appendix A) and a MOS estimate.

`ReceiverStats` follows RFC 3550 A.1 (source validation and extended sequence
numbers), A.3 (expected and lost packets) and A.8 (interarrival jitter); it feeds
the report blocks of our RTCP reports.  `SenderStats` counts what we send and builds
SRs.  `estimate_mos` turns loss, jitter and round-trip time into a listening MOS
with a simplified ITU-T G.107 E-model, for call records and the supervisor wallboard.

Times: ``arrival``/``now`` given to `ReceiverStats` only need to come from one
monotonic clock (only differences are used).  `SenderStats.build_sender_report` and
`media.rtp.rtcp.round_trip_time` need wall-clock Unix time, because the NTP
timestamp of an SR is absolute.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from media.rtp.jitterbuffer import JITTER_FACTOR
from media.rtp.packet import RtpPacket
from media.rtp.rtcp import ReportBlock, SenderReport, ntp_from_unix, ntp_middle, ntp_short
from media.rtp.seq import SEQ_MOD, seq_diff, ts_diff

# RFC 3550 A.1 constants.
MIN_SEQUENTIAL = 2
MAX_DROPOUT = 3000
MAX_MISORDER = 100

_DUP_RING = 1024  # recently seen extended sequence numbers (power of two > MAX_MISORDER)


class ReceiverStats:
    """Reception statistics of the RTP stream from one remote source.

    Per-source state (RFC 3550 A.1/A.3/A.8: base sequence, cycles, received, jitter)
    restarts when the SSRC changes, which `ssrc_changes` counts; the session
    counters (`packets`, `octets`, `duplicates`, `late`, `invalid`) run for the call.
    As in RFC 3550 §6.4.1, `received` counts duplicates, so `lost` can be negative.
    """

    def __init__(self, clock_rate: int = 8000) -> None:
        self.clock_rate = clock_rate
        self.ssrc: int | None = None
        self.ssrc_changes = 0
        self.packets = 0  # every packet given to update()
        self.octets = 0  # their payload octets
        self.duplicates = 0  # a sequence number seen before (within the last 1024)
        self.late = 0  # arrived after a packet with a higher sequence number
        self.invalid = 0  # not counted by RFC 3550 A.1: probation or a big jump
        self._sr_arrival = 0.0
        self._start(None, 0)

    def _start(self, ssrc: int | None, seq: int) -> None:
        """A new source on probation (RFC 3550 A.1: init_seq, max_seq = seq - 1)."""
        self.ssrc = ssrc
        self._init_seq(seq)
        self._max_seq = (seq - 1) & 0xFFFF
        self._probation = MIN_SEQUENTIAL
        self.jitter = 0.0  # RFC 3550 A.8, in timestamp units
        self._lsr = 0

    def _init_seq(self, seq: int) -> None:
        self._seen = [-1] * _DUP_RING  # extended numbers restart: forget the old ones
        self._base_seq = seq
        self._max_seq = seq
        self._bad_seq = SEQ_MOD + 1  # so seq == bad_seq is false
        self._cycles = 0
        self.received = 0
        self._received_prior = 0
        self._expected_prior = 0
        # A restarted sender restarts its timestamps too: no transit to compare with.
        self._last_arrival: float | None = None
        self._last_timestamp = 0

    def update(self, packet: RtpPacket, arrival: float) -> bool:
        """Account for a received packet (``arrival`` in seconds); True if it counts.

        False while the source is on probation and for packets after a big
        sequence jump (RFC 3550 A.1 ``update_seq`` returning 0).
        """
        return self.observe(
            packet.ssrc, packet.sequence_number, packet.timestamp, len(packet.payload), arrival
        )

    def observe(self, ssrc: int, seq: int, timestamp: int, size: int, arrival: float) -> bool:
        """:meth:`update` from header fields, for a receive path that builds no packet object."""
        self.packets += 1
        self.octets += size
        if ssrc != self.ssrc:
            if self.ssrc is not None:
                self.ssrc_changes += 1
            self._start(ssrc, seq)
        ext = self._update_seq(seq)
        if ext is None:
            self.invalid += 1
            return False
        slot = ext & (_DUP_RING - 1)
        if self._seen[slot] == ext:
            self.duplicates += 1  # no new timing information: keep it out of the jitter
            return True
        self._seen[slot] = ext
        if ext < self.extended_max:
            self.late += 1
        self._update_jitter(timestamp, arrival)
        return True

    def _update_seq(self, seq: int) -> int | None:
        """RFC 3550 A.1 ``update_seq``; the packet's extended number, or None if invalid."""
        udelta = (seq - self._max_seq) & 0xFFFF
        if self._probation:
            # The RFC compares with max_seq + 1 unwrapped; modulo 2**16 also lets a
            # source on probation cross the wrap.
            if udelta == 1:
                self._probation -= 1
                self._max_seq = seq
                if self._probation == 0:
                    self._init_seq(seq)
                    self.received += 1
                    return self._cycles + seq
            else:
                self._probation = MIN_SEQUENTIAL - 1
                self._max_seq = seq
            return None
        if udelta < MAX_DROPOUT:
            if seq < self._max_seq:
                self._cycles += SEQ_MOD  # wrapped: count another 64K cycle
            self._max_seq = seq
        elif udelta <= SEQ_MOD - MAX_MISORDER:
            if seq != self._bad_seq:
                self._bad_seq = (seq + 1) & 0xFFFF
                return None
            # Two sequential packets after a big jump: the sender restarted, re-sync.
            self._init_seq(seq)
        # else: a duplicate or reordered packet, counted below
        self.received += 1
        return self.extended_max + seq_diff(seq, self._max_seq)

    def _update_jitter(self, timestamp: int, arrival: float) -> None:
        """RFC 3550 A.8, with the transit difference computed wrap-safely."""
        if self._last_arrival is not None:
            d = (arrival - self._last_arrival) * self.clock_rate - ts_diff(
                timestamp, self._last_timestamp
            )
            self.jitter += (abs(d) - self.jitter) / 16
        self._last_arrival = arrival
        self._last_timestamp = timestamp

    def update_sender_report(self, report: SenderReport, arrival: float) -> None:
        """Remember an SR from the source, for LSR/DLSR in our next report block."""
        if report.ssrc == self.ssrc:
            self._lsr = ntp_middle(report.ntp_timestamp)
            self._sr_arrival = arrival

    # --- RFC 3550 A.3 -------------------------------------------------------------------

    @property
    def extended_max(self) -> int:
        """The highest extended sequence number received (cycles + max_seq)."""
        return self._cycles + self._max_seq

    @property
    def expected(self) -> int:
        """Packets expected since the source became valid."""
        return self.extended_max - self._base_seq + 1 if self.received else 0

    @property
    def lost(self) -> int:
        """Cumulative packets lost, RFC style: expected minus received (with duplicates)."""
        return self.expected - self.received

    @property
    def loss_fraction(self) -> float:
        """Lost over expected for the whole stream, in [0, 1] (for `estimate_mos`)."""
        expected = self.expected
        return min(max(self.lost / expected, 0.0), 1.0) if expected else 0.0

    def jitter_ms(self, clock_rate: int | None = None) -> float:
        """Interarrival jitter in milliseconds, for ``clock_rate`` (default: the stream's)."""
        return self.jitter * 1000 / (clock_rate or self.clock_rate)

    def report_block(self, now: float) -> ReportBlock | None:
        """The report block about this source, starting a new loss interval (A.3).

        ``now`` is on the clock of the ``arrival`` values (for DLSR).  None before
        the source has been validated.
        """
        if self.ssrc is None or not self.received:
            return None
        expected = self.expected
        expected_interval = expected - self._expected_prior
        received_interval = self.received - self._received_prior
        self._expected_prior = expected
        self._received_prior = self.received
        lost_interval = expected_interval - received_interval
        fraction = 0
        if expected_interval and lost_interval > 0:
            fraction = min((lost_interval << 8) // expected_interval, 255)
        return ReportBlock(
            ssrc=self.ssrc,
            fraction_lost=fraction,
            cumulative_lost=min(max(self.lost, -0x800000), 0x7FFFFF),
            highest_sequence=self.extended_max & 0xFFFFFFFF,
            jitter=min(int(self.jitter), 0xFFFFFFFF),
            lsr=self._lsr,
            dlsr=ntp_short(now - self._sr_arrival) if self._lsr else 0,
        )


class SenderStats:
    """Counters of the RTP stream we send, and our sender reports (RFC 3550 §6.4.1)."""

    def __init__(self, ssrc: int) -> None:
        self.ssrc = ssrc
        self.packets = 0
        self.octets = 0  # payload octets, as the SR counts them

    def update(self, packet: RtpPacket) -> None:
        """Account for a packet we sent."""
        self.packets += 1
        self.octets += len(packet.payload)

    def build_sender_report(
        self, now: float, rtp_timestamp: int, reports: Iterable[ReportBlock] = ()
    ) -> SenderReport:
        """An SR for Unix time ``now``; ``rtp_timestamp`` is our media clock at ``now``."""
        return SenderReport(
            ssrc=self.ssrc,
            ntp_timestamp=ntp_from_unix(now),
            rtp_timestamp=rtp_timestamp & 0xFFFFFFFF,
            packet_count=self.packets & 0xFFFFFFFF,
            octet_count=self.octets & 0xFFFFFFFF,
            reports=tuple(reports),
        )


# --- simplified ITU-T G.107 E-model ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class CodecImpairment:
    """E-model codec figures: equipment impairment Ie, loss robustness Bpl, frame ms."""

    ie: float
    bpl: float
    frame_ms: float


# ITU-T G.113 Appendix I provisional planning values (random loss, with PLC).
CODEC_IMPAIRMENTS: dict[str, CodecImpairment] = {
    "PCMU": CodecImpairment(ie=0.0, bpl=25.1, frame_ms=20.0),
    "PCMA": CodecImpairment(ie=0.0, bpl=25.1, frame_ms=20.0),
    "G729": CodecImpairment(ie=11.0, bpl=19.0, frame_ms=20.0),
}

R_DEFAULT = 93.2  # G.107 §7: R with every parameter at its default (R0 - Is - Id)


def delay_impairment(one_way_ms: float) -> float:
    """G.107 Idd: impairment of the absolute one-way delay ``Ta`` (none up to 100 ms)."""
    if one_way_ms <= 100:
        return 0.0
    x = math.log10(one_way_ms / 100) / math.log10(2)
    return 25 * ((1 + x**6) ** (1 / 6) - 3 * (1 + (x / 3) ** 6) ** (1 / 6) + 2)


def effective_equipment_impairment(loss_fraction: float, codec: str = "PCMU") -> float:
    """G.107 Ie,eff for random loss (BurstR = 1): Ie + (95 - Ie) Ppl / (Ppl + Bpl)."""
    figures = _impairment(codec)
    ppl = 100 * loss_fraction
    return figures.ie + (95 - figures.ie) * ppl / (ppl + figures.bpl)


def r_factor(
    loss_fraction: float, jitter_ms: float, rtt_ms: float | None = None, codec: str = "PCMU"
) -> float:
    """The transmission rating R of a simplified G.107 E-model.

    R = 93.2 - Idd(Ta) - Ie,eff: defaults for every other parameter (echo cancelled,
    no extra noise, advantage A = 0).  The one-way delay Ta is half the round-trip
    time (0 when unknown) plus one frame of packetization plus the playout delay our
    jitter buffer would choose (`JITTER_FACTOR` x jitter, at least one frame).
    """
    if not 0 <= loss_fraction <= 1:
        raise ValueError(f"loss_fraction must be within [0, 1], got {loss_fraction}")
    figures = _impairment(codec)
    buffer_ms = max(JITTER_FACTOR * jitter_ms, figures.frame_ms)
    one_way_ms = (rtt_ms / 2 if rtt_ms is not None else 0.0) + figures.frame_ms + buffer_ms
    impairment = delay_impairment(one_way_ms) + effective_equipment_impairment(loss_fraction, codec)
    return R_DEFAULT - impairment


def _impairment(codec: str) -> CodecImpairment:
    try:
        return CODEC_IMPAIRMENTS[codec.upper().replace(".", "")]
    except KeyError:
        known = ", ".join(CODEC_IMPAIRMENTS)
        raise ValueError(f"no E-model figures for codec {codec!r}; known: {known}") from None


def mos_from_r(r: float) -> float:
    """MOS (conversational quality estimate) from R, ITU-T G.107 Annex B."""
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6


def estimate_mos(
    loss_fraction: float, jitter_ms: float, rtt_ms: float | None = None, codec: str = "PCMU"
) -> float:
    """MOS from loss (fraction, 0-1), jitter and RTT in ms; see `r_factor`.

    G.711 without loss or delay gives R = 93.2, MOS 4.41.  ``codec`` is a key of
    `CODEC_IMPAIRMENTS` ("PCMU", "PCMA", "G729"; any case, dots ignored) or
    ValueError is raised.
    """
    return mos_from_r(r_factor(loss_fraction, jitter_ms, rtt_ms, codec))
