"""Wrap-around helpers, RFC 3550 A.1/A.3/A.8 reception statistics, SRs and the E-model."""

from __future__ import annotations

import random
from collections.abc import Iterable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from media.rtp.packet import RtpPacket
from media.rtp.rtcp import (
    SenderReport,
    ntp_from_unix,
    round_trip_time,
    unix_from_ntp,
)
from media.rtp.seq import (
    extend_seq,
    extend_ts,
    seq_add,
    seq_diff,
    seq_gt,
    ts_add,
    ts_diff,
    ts_gt,
)
from media.rtp.stats import (
    ReceiverStats,
    SenderStats,
    delay_impairment,
    effective_equipment_impairment,
    estimate_mos,
    mos_from_r,
    r_factor,
)
from tests.media.pcap import SIPP_PCAPS, read_udp

SSRC = 0x5EED5EED
FRAME = 0.02  # seconds per packet
SAMPLES = 160  # timestamp units per packet at 8 kHz


# --- wrap-around helpers --------------------------------------------------------------


def test_sequence_wrap_at_65535() -> None:
    assert seq_add(65535, 1) == 0
    assert seq_add(0, -1) == 65535
    assert seq_diff(0, 65535) == 1
    assert seq_diff(65535, 0) == -1
    assert seq_gt(0, 65535)
    assert not seq_gt(65535, 0)
    assert not seq_gt(7, 7)
    assert seq_diff(32768, 0) == -32768  # exactly half way: the older reading
    assert seq_diff(32767, 0) == 32767


def test_timestamp_wrap_at_2_32() -> None:
    assert ts_add(0xFFFFFF60, 160) == 0
    assert ts_diff(0, 0xFFFFFF60) == 160
    assert ts_diff(0xFFFFFF60, 0) == -160
    assert ts_gt(0, 0xFFFFFF60)
    assert not ts_gt(0xFFFFFF60, 0)


def test_extend_across_the_wrap() -> None:
    assert extend_seq(0, 65535) == 65536
    assert extend_seq(65535, 65536) == 65535
    assert extend_seq(3, 3 * 65536 + 65530) == 4 * 65536 + 3
    assert extend_ts(0, 0xFFFFFF60) == 1 << 32
    assert extend_ts(0xFFFFFF60, 1 << 32) == 0xFFFFFF60


@given(st.integers(0, 1 << 40), st.integers(-32767, 32767))
def test_extend_seq_recovers_the_extended_value(reference: int, delta: int) -> None:
    value = max(reference + delta, 0)
    assert extend_seq(value & 0xFFFF, reference) == value


@given(st.integers(0, 1 << 50), st.integers(-(1 << 31) + 1, (1 << 31) - 1))
def test_extend_ts_recovers_the_extended_value(reference: int, delta: int) -> None:
    value = max(reference + delta, 0)
    assert extend_ts(value & 0xFFFFFFFF, reference) == value


# --- receiver statistics --------------------------------------------------------------


def packet(index: int, first_seq: int = 0, first_ts: int = 0, ssrc: int = SSRC) -> RtpPacket:
    """The ``index``-th packet of a 20 ms PCMU stream."""
    return RtpPacket(
        0, (first_seq + index) & 0xFFFF, (first_ts + index * SAMPLES) & 0xFFFFFFFF, ssrc,
        b"\xff" * 160,
    )  # fmt: skip


def feed(stats: ReceiverStats, indices: Iterable[int], **kwargs: int) -> None:
    """Deliver packets with the given indices, each on time (no jitter)."""
    for index in indices:
        stats.update(packet(index, **kwargs), index * FRAME)


def test_probation_then_clean_stream() -> None:
    stats = ReceiverStats()
    assert not stats.update(packet(0), 0.0)  # MIN_SEQUENTIAL = 2: first is on probation
    assert stats.report_block(0.0) is None
    feed(stats, range(1, 100))
    assert (stats.received, stats.expected, stats.lost, stats.invalid) == (99, 99, 0, 1)
    assert (stats.packets, stats.octets) == (100, 16000)
    assert stats.jitter == pytest.approx(0, abs=1e-6)


def test_five_percent_loss_across_the_sequence_wrap_exact_counts() -> None:
    stats = ReceiverStats()
    lost = {i for i in range(2000) if i % 20 == 10}  # 5%, never the first two
    feed(stats, (i for i in range(1000) if i not in lost), first_seq=65000)
    block = stats.report_block(1000 * FRAME)
    assert block is not None
    # The packet that ended probation (index 1) is the base: expected 999, lost 50.
    assert (stats.expected, stats.received, stats.lost) == (999, 949, 50)
    assert block.cumulative_lost == 50
    assert block.fraction_lost == (50 << 8) // 999 == 12
    assert block.highest_sequence == 65536 + (65000 + 999 - 65536)  # one wrap
    feed(stats, (i for i in range(1000, 2000) if i not in lost), first_seq=65000)
    block = stats.report_block(2000 * FRAME)
    assert block is not None
    assert (stats.expected, stats.lost) == (1999, 100)
    assert block.fraction_lost == (50 << 8) // 1000 == 12
    assert stats.loss_fraction == pytest.approx(100 / 1999)
    # A third interval without loss reports fraction 0, cumulative unchanged.
    feed(stats, range(2000, 2100), first_seq=65000)
    block = stats.report_block(2100 * FRAME)
    assert block is not None
    assert (block.fraction_lost, block.cumulative_lost) == (0, 100)


def test_reordering_counts_late_but_loses_nothing() -> None:
    stats = ReceiverStats()
    order = [0, 1, 2, 4, 3, 5, 7, 6, 8, 9, 12, 10, 11, 13, 14]
    feed(stats, order)
    assert (stats.expected, stats.received, stats.lost) == (14, 14, 0)
    assert stats.late == 4  # 3, 6, 10 and 11
    assert stats.duplicates == 0


def test_duplicates_count_as_received_so_rfc_loss_goes_negative() -> None:
    stats = ReceiverStats()
    feed(stats, [0, 1, 2, 3, 3, 4, 5, 5, 5, 6, 2])
    assert stats.duplicates == 4
    assert (stats.expected, stats.received, stats.lost) == (6, 10, -4)
    block = stats.report_block(1.0)
    assert block is not None
    assert (block.cumulative_lost, block.fraction_lost) == (-4, 0)


def test_ssrc_change_resets_the_source_and_is_counted() -> None:
    stats = ReceiverStats()
    feed(stats, range(50))
    feed(stats, range(50, 80), first_seq=30000, ssrc=0xABCDEF)
    assert stats.ssrc == 0xABCDEF
    assert stats.ssrc_changes == 1
    # The new source went through probation again: index 51 (seq 30051) is its base.
    assert (stats.expected, stats.received, stats.lost) == (29, 29, 0)
    assert stats.invalid == 2
    assert stats.packets == 80


def test_large_jump_resyncs_after_two_sequential_packets() -> None:
    stats = ReceiverStats()
    feed(stats, range(10))
    assert not stats.update(packet(0, first_seq=40000), 1.0)  # jump: remembered as bad_seq
    assert stats.update(packet(1, first_seq=40000), 1.02)  # sequential: the sender restarted
    feed(stats, range(2, 10), first_seq=40000)
    assert (stats.expected, stats.received, stats.lost) == (9, 9, 0)


def test_misordered_old_packet_within_max_misorder_is_late_not_a_jump() -> None:
    stats = ReceiverStats()
    feed(stats, (i for i in range(200) if i != 150))
    assert stats.update(packet(150), 4.0)
    assert stats.late == 1
    assert not stats.update(packet(10), 4.1)  # 189 behind: beyond MAX_MISORDER
    assert stats.invalid == 2
    assert (stats.expected, stats.lost) == (199, 0)


def test_jitter_converges_to_mean_absolute_transit_difference() -> None:
    # Arrival = nominal + U(-10 ms, +10 ms); the transit difference D of two packets is
    # triangular on [-20, 20] ms with E|D| = 20/3 ms, which A.8 estimates.
    rng = random.Random(3550)
    stats = ReceiverStats()
    estimates = []
    for i in range(3000):
        stats.update(packet(i, first_ts=0xFFFF0000), i * FRAME + rng.uniform(-0.01, 0.01))
        if i >= 500:
            estimates.append(stats.jitter_ms())
    assert sum(estimates) / len(estimates) == pytest.approx(20 / 3, rel=0.05)
    assert 20 / 3 - 3 < stats.jitter_ms() < 20 / 3 + 3
    assert stats.jitter_ms(16000) == stats.jitter_ms() / 2
    block = stats.report_block(60.0)
    assert block is not None
    assert block.jitter == int(stats.jitter) == pytest.approx(20 / 3 * 8, abs=24)


def test_constant_delay_and_timestamp_wrap_give_zero_jitter() -> None:
    stats = ReceiverStats()
    for i in range(100):
        stats.update(packet(i, first_ts=0xFFFFF000), 1000.0 + 0.080 + i * FRAME)
    assert stats.jitter == pytest.approx(0, abs=1e-6)


def test_report_block_lsr_dlsr_from_rfc_3550_figure_2() -> None:
    # The SR of RFC 3550 §6.4.1 figure 2 arrives; we answer 5.25 s later.
    stats = ReceiverStats()
    feed(stats, range(10))
    sr = SenderReport(SSRC, (0xB44DB705 << 32) | 0x20000000, 0, 0, 0)
    stats.update_sender_report(sr, arrival=100.0)
    stats.update_sender_report(SenderReport(0x999, 0xFFFF << 32, 0, 0, 0), 101.0)  # not ours
    block = stats.report_block(105.25)
    assert block is not None
    assert (block.lsr, block.dlsr) == (0xB7052000, 0x00054000)
    # ... and the sender, getting it 0.875 s later (network), computes the RTT.
    arrival = unix_from_ntp(sr.ntp_timestamp) + 5.25 + 0.875
    assert round_trip_time(block, arrival) == pytest.approx(0.875, abs=1 / 65536)


@pytest.mark.peer
def test_sipp_capture_statistics() -> None:
    # SIPp's g711a.pcap: 236 PCMA packets, 30 ms apart, no loss (captured timing).
    stats = ReceiverStats()
    datagrams = read_udp(SIPP_PCAPS / "g711a.pcap")
    for datagram in datagrams:
        stats.update(RtpPacket.parse(datagram.payload), datagram.time)
    assert (stats.packets, stats.expected, stats.received, stats.lost) == (236, 235, 235, 0)
    assert stats.octets == 236 * 240
    assert stats.jitter_ms() < 1.0  # captured on a LAN


@pytest.mark.peer
def test_rfc_4733_end_retransmissions_are_duplicates() -> None:
    # SIPp's dtmf_2833_1.pcap ends with the event's end packet sent three times.
    stats = ReceiverStats()
    for datagram in read_udp(SIPP_PCAPS / "dtmf_2833_1.pcap"):
        stats.update(RtpPacket.parse(datagram.payload), datagram.time)
    assert (stats.packets, stats.duplicates, stats.expected) == (10, 2, 7)


# --- sender statistics ----------------------------------------------------------------


def test_sender_report_counts_and_ntp_time() -> None:
    sender = SenderStats(0x1234)
    for i in range(50):
        sender.update(packet(i, ssrc=0x1234))
    block = ReceiverStats().report_block(0.0)
    assert block is None
    report = sender.build_sender_report(1_700_000_000.5, rtp_timestamp=(1 << 32) + 8000)
    assert report == SenderReport(
        0x1234, ntp_from_unix(1_700_000_000.5), 8000, packet_count=50, octet_count=8000
    )
    assert SenderReport.parse(bytes(report)) == report


# --- E-model --------------------------------------------------------------------------


def test_g711_without_impairments_is_r_93_2_mos_4_41() -> None:
    # ITU-T G.107: R = 93.2 with all default values; Annex B maps it to MOS 4.41.
    assert r_factor(0.0, 0.0) == pytest.approx(93.2)
    assert estimate_mos(0.0, 0.0) == pytest.approx(4.41, abs=0.005)
    assert estimate_mos(0.0, 0.0, codec="PCMA") == estimate_mos(0.0, 0.0)


@pytest.mark.parametrize(
    ("r", "mos", "digits"),
    [(90, 4.34, 2), (89, 4.31, 2), (80, 4.0, 1), (70, 3.6, 1), (69, 3.55, 2), (60, 3.1, 1),
     (59, 3.05, 2), (50, 2.6, 1)],
)  # fmt: skip
def test_mos_from_r_matches_the_g107_satisfaction_table(r: float, mos: float, digits: int) -> None:
    # Band limits of the R / MOS / user-satisfaction table (G.107 Annex B, G.109) as
    # published, rounded, in Mitel's MiVoice MX-ONE 8.0 "Speech Quality Measurement" page.
    assert round(mos_from_r(r), digits) == mos


def test_mos_from_r_limits() -> None:
    assert mos_from_r(-5) == 1.0
    assert mos_from_r(0) == 1.0
    assert mos_from_r(100) == 4.5
    assert mos_from_r(120) == 4.5


@pytest.mark.parametrize(
    ("loss", "ie_eff", "mos"),
    [
        # Worked by hand from G.107 eq. (7-29), BurstR = 1, G.711 with PLC Bpl = 25.1:
        (0.01, 95 * 1 / 26.1, 4.328),  # Ie,eff 3.64 -> R 89.56
        (0.02, 95 * 2 / 27.1, 4.235),  # Ie,eff 7.01 -> R 86.19
        (0.05, 95 * 5 / 30.1, 3.923),  # Ie,eff 15.78 -> R 77.42
    ],
)
def test_random_loss_impairment_for_g711(loss: float, ie_eff: float, mos: float) -> None:
    assert effective_equipment_impairment(loss) == pytest.approx(ie_eff)
    assert estimate_mos(loss, 0.0) == pytest.approx(mos, abs=0.001)


def test_g729_codec_impairment() -> None:
    assert r_factor(0.0, 0.0, codec="G729") == pytest.approx(93.2 - 11)
    assert r_factor(0.0, 0.0, codec="g.729") == r_factor(0.0, 0.0, codec="G729")
    with pytest.raises(ValueError, match="no E-model figures for codec 'OPUS'; known: PCMU"):
        estimate_mos(0.0, 0.0, codec="OPUS")
    assert effective_equipment_impairment(0.02, "G729") == pytest.approx(11 + 84 * 2 / 21)


def test_delay_impairment() -> None:
    assert delay_impairment(100) == 0.0
    x = 1  # Ta = 200 ms is one doubling over 100 ms
    expected = 25 * ((1 + x**6) ** (1 / 6) - 3 * (1 + (x / 3) ** 6) ** (1 / 6) + 2)
    assert delay_impairment(200) == pytest.approx(expected) == pytest.approx(3.04, abs=0.01)
    assert 0 < delay_impairment(150) < delay_impairment(200) < delay_impairment(400)
    # No RTT, 20 ms jitter: Ta = 20 frame + 80 buffer = 100 ms, still no delay impairment.
    assert r_factor(0.0, 20.0) == pytest.approx(93.2)
    assert estimate_mos(0.0, 20.0, rtt_ms=300) < estimate_mos(0.0, 20.0, rtt_ms=100)


def test_mos_decreases_with_each_impairment() -> None:
    base = estimate_mos(0.01, 10.0, 100.0)
    assert estimate_mos(0.03, 10.0, 100.0) < base
    assert estimate_mos(0.01, 60.0, 100.0) < base
    assert estimate_mos(0.01, 10.0, 400.0) < base
    assert 1.0 <= estimate_mos(1.0, 500.0, 2000.0) < 1.5
    with pytest.raises(ValueError, match="loss_fraction"):
        estimate_mos(5.0, 0.0)
