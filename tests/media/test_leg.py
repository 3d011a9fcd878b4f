"""MediaLeg, sans-IO: the packets it sends, what it makes of what it receives, RTCP.

Everything runs on a fake clock: ``receive(data, addr, now)`` and ``tick(now)`` with
``now`` stepped by the test.  Packets are checked by parsing them with the RTP, RTCP and
RFC 4733 parsers and decoding their audio with :mod:`media.codecs`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from media.codecs import get_codec
from media.dtmf.events import DtmfDigit
from media.dtmf.inband import COLUMN_HZ, KEYPAD, ROW_HZ
from media.dtmf.rfc4733 import TelephoneEventSender, parse_payload
from media.leg import FRAME_SAMPLES, SILENT_FRAME, MediaLeg
from media.prompts.player import Player
from media.rtp.packet import RtpExtension, RtpPacket
from media.rtp.rtcp import (
    ReceiverReport,
    ReportBlock,
    SenderReport,
    SourceDescription,
    ntp_from_unix,
    ntp_middle,
    ntp_short,
    parse_rtcp,
    serialize_rtcp,
)

PEER = ("192.0.2.10", 40000)
PEER_SSRC = 0xCAFE0001
PERIOD = 0.020
PCMU = get_codec("PCMU")


class Leg:
    """A PCMU leg with telephone-event 101, its digits collected, on a fake clock."""

    def __init__(self, **kwargs: object) -> None:
        self.digits: list[DtmfDigit] = []
        options: dict[str, object] = {
            "codec": get_codec("PCMU"),
            "payload_type": 0,
            "telephone_event_pt": 101,
            "remote": PEER,
            "on_digit": self.digits.append,
            "ssrc": 0x11223344,
            "sequence": 1000,
            "timestamp": 50_000,
        }
        options.update(kwargs)
        self.leg = MediaLeg(**options)  # type: ignore[arg-type]
        self.now = 0.0

    def tick(self) -> bytes | None:
        packet = self.leg.tick(self.now)
        self.now += PERIOD
        return packet

    def ticks(self, n: int) -> list[RtpPacket]:
        out = []
        for _ in range(n):
            packet = self.tick()
            assert packet is not None
            out.append(RtpPacket.parse(packet))
        return out


def rtp(
    seq: int,
    payload: bytes,
    *,
    pt: int = 0,
    ts: int | None = None,
    marker: bool = False,
    ssrc: int = PEER_SSRC,
) -> bytes:
    timestamp = (seq * FRAME_SAMPLES if ts is None else ts) & 0xFFFFFFFF
    return bytes(RtpPacket(pt, seq & 0xFFFF, timestamp, ssrc, payload, marker))


def frames_of(pcm: npt.NDArray[np.int16]) -> list[npt.NDArray[np.int16]]:
    return [pcm[i : i + FRAME_SAMPLES] for i in range(0, len(pcm), FRAME_SAMPLES)]


def ramp(frames: int) -> npt.NDArray[np.int16]:
    """Audio whose every frame differs: a slow sawtooth."""
    samples = np.arange(frames * FRAME_SAMPLES)
    return ((samples % 400) * 40 - 8000).astype(np.int16)


def g711(pcm: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    """What ``pcm`` sounds like after one PCMU encode/decode."""
    return PCMU.decode(PCMU.encode(pcm))


def dtmf_tone(digit: str, ms: int, level_dbm0: float = -10.0) -> npt.NDArray[np.int16]:
    """Q.23 row + column sines of ``digit``, as int16 PCM at 8 kHz."""
    row = next(i for i, keys in enumerate(KEYPAD) if digit in keys)
    column = KEYPAD[row].index(digit)
    t = np.arange(ms * 8) / 8000
    amplitude = 22_656.0 * 10 ** (level_dbm0 / 20)
    signal = np.sin(2 * np.pi * ROW_HZ[row] * t) + np.sin(2 * np.pi * COLUMN_HZ[column] * t)
    return np.round(amplitude * signal).astype(np.int16)


# -- what goes out: RTP headers --------------------------------------------------------


def test_headers_of_sent_packets() -> None:
    fake = Leg()
    packets = fake.ticks(5)
    assert all(p.payload_type == 0 and not p.marker for p in packets)
    assert [p.sequence_number for p in packets] == [1000, 1001, 1002, 1003, 1004]
    assert [p.timestamp for p in packets] == [50_000 + i * 160 for i in range(5)]
    assert {p.ssrc for p in packets} == {0x11223344}
    raw = fake.leg.tick(fake.now)
    assert raw is not None and raw[0] >> 6 == 2  # version 2, no padding/extension/CSRC
    assert raw[0] & 0x3F == 0
    assert fake.leg.sent.packets_sent == 6
    assert fake.leg.sent.octets_sent == 6 * 160


def test_sequence_and_timestamp_wrap_around() -> None:
    fake = Leg(sequence=0xFFFE, timestamp=0xFFFFFFFF - 200)
    packets = fake.ticks(4)
    assert [p.sequence_number for p in packets] == [0xFFFE, 0xFFFF, 0, 1]
    start = 0xFFFFFFFF - 200
    assert [p.timestamp for p in packets] == [(start + i * 160) & 0xFFFFFFFF for i in range(4)]
    assert packets[2].timestamp == 119  # wrapped past 2**32


def test_random_initial_sequence_timestamp_and_ssrc() -> None:
    legs = [MediaLeg(PCMU, 0, None, PEER, lambda d: None) for _ in range(8)]
    assert len({leg.ssrc for leg in legs}) > 1
    assert len({leg.timestamp for leg in legs}) > 1
    assert all(0 <= leg.sequence <= 0xFFFF for leg in legs)


def test_comfort_silence_without_a_source() -> None:
    fake = Leg()
    silence = PCMU.encode(np.zeros(FRAME_SAMPLES, dtype=np.int16))
    assert {p.payload for p in fake.ticks(3)} == {silence}
    alaw = Leg(codec=get_codec("PCMA"), payload_type=8)
    packets = alaw.ticks(2)
    assert {p.payload for p in packets} == {get_codec("PCMA").encode(np.zeros(160, np.int16))}
    assert {p.payload_type for p in packets} == {8}


def test_player_frames_come_out_encoded_then_silence() -> None:
    fake = Leg()
    pcm = ramp(4)[: 3 * FRAME_SAMPLES + 50]  # the last frame is zero-padded by the player
    fake.leg.source = Player(pcm)
    packets = fake.ticks(6)
    heard = np.concatenate([PCMU.decode(p.payload) for p in packets[:4]])
    expected = np.zeros(4 * FRAME_SAMPLES, dtype=np.int16)
    expected[: len(pcm)] = pcm
    np.testing.assert_array_equal(heard, g711(expected))
    silence = PCMU.encode(np.zeros(FRAME_SAMPLES, dtype=np.int16))
    assert [p.payload for p in packets[4:]] == [silence, silence]
    assert fake.leg.source is None  # the finished source was let go
    assert [p.timestamp - packets[0].timestamp for p in packets] == [i * 160 for i in range(6)]


def test_no_remote_sends_nothing_but_time_and_the_source_go_on() -> None:
    """On hold (no remote) a prompt still plays out in time, so play() can finish."""
    fake = Leg(remote=None)
    fake.leg.source = Player(ramp(3))
    assert [fake.tick() for _ in range(4)] == [None] * 4
    assert fake.leg.source is None
    assert fake.leg.sent.packets_sent == 0
    fake.leg.remote = PEER
    (packet,) = fake.ticks(1)
    assert packet.sequence_number == 1000  # no gap in what the peer sees
    assert packet.timestamp == 50_000 + 4 * 160  # but the media clock ran on


# -- RFC 4733 digits we send -----------------------------------------------------------


def test_send_digit_packets_then_voice_resumes() -> None:
    fake = Leg()
    fake.leg.source = Player(ramp(20))
    before = fake.ticks(2)
    fake.leg.send_digit("5")
    packets = fake.ticks(7)
    after = fake.ticks(2)
    assert {p.payload_type for p in packets} == {101}
    assert [p.marker for p in packets] == [True] + [False] * 6
    event_ts = before[-1].timestamp + 160
    assert {p.timestamp for p in packets} == {event_ts}
    blocks = [parse_payload(p.payload) for p in packets]
    assert all(len(b) == 1 and b[0].event == 5 for b in blocks)
    durations = [b[0].duration for b in blocks]
    assert durations == sorted(durations) and durations[0] < durations[-1] == 800  # 100 ms
    assert [b[0].end for b in blocks] == [False] * 4 + [True] * 3
    seqs = [p.sequence_number for p in before + packets + after]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    # Voice resumes, its clock advanced by the seven ticks the event took.
    assert [p.payload_type for p in after] == [0, 0]
    assert after[0].timestamp == event_ts + 7 * 160
    assert fake.leg.sent.dtmf_sent == 1
    # The prompt paused during the event and goes on where it was.
    np.testing.assert_array_equal(PCMU.decode(after[0].payload), g711(ramp(20))[320:480])


def test_two_queued_digits_get_their_own_timestamps() -> None:
    fake = Leg()
    fake.leg.send_digit("1", duration_ms=60)  # updates at 20 and 40 ms, then 3 ends
    fake.leg.send_digit("#", duration_ms=60)
    packets = fake.ticks(11)
    events = packets[:10]
    assert {p.payload_type for p in events} == {101}
    first, second = events[:5], events[5:]
    assert len({p.timestamp for p in first}) == 1 and len({p.timestamp for p in second}) == 1
    assert second[0].timestamp == first[0].timestamp + 5 * 160
    assert [p.marker for p in events] == [True, False, False, False, False] * 2
    assert parse_payload(first[0].payload)[0].event == 1
    assert parse_payload(second[0].payload)[0].event == 11  # '#'
    assert packets[10].payload_type == 0
    assert packets[10].timestamp == first[0].timestamp + 10 * 160
    assert fake.leg.sent.dtmf_sent == 2


def test_long_digit_segments_carry_their_own_timestamps() -> None:
    """RFC 4733 §2.5.1.3: past 0xFFFF samples an event goes on in a new segment."""
    fake = Leg()
    fake.leg.send_digit("9", duration_ms=9000)
    packets = [p for p in fake.ticks(460) if p.payload_type == 101]
    stamps = sorted({p.timestamp for p in packets})
    assert stamps == [50_000, 50_000 + 0xFFFF]
    assert sum(p.marker for p in packets) == 1


def test_send_digit_refuses_what_it_cannot_send() -> None:
    fake = Leg()
    with pytest.raises(ValueError):
        fake.leg.send_digit("x")  # at once, not in the ticker later
    with pytest.raises(ValueError):
        fake.leg.send_digit("1", duration_ms=0)
    with pytest.raises(ValueError, match="telephone-event"):
        Leg(telephone_event_pt=None).leg.send_digit("1")
    assert {p.payload_type for p in fake.ticks(3)} == {0}


# -- what comes in ----------------------------------------------------------------------


def test_first_packet_latches_the_remote_address() -> None:
    fake = Leg()
    nat = ("198.51.100.7", 61000)
    fake.leg.receive(rtp(1, bytes(160)), nat, 0.0)
    assert fake.leg.remote == nat and fake.leg.latched
    fake.leg.receive(rtp(2, bytes(160)), ("203.0.113.9", 5000), 0.02)
    assert fake.leg.remote == nat  # only the first


def test_invalid_packet_neither_latches_nor_counts() -> None:
    fake = Leg()
    fake.leg.receive(b"\x40" + bytes(20), ("203.0.113.9", 5000), 0.0)  # RTP version 1
    assert not fake.leg.latched and fake.leg.remote == PEER
    assert fake.leg.receiver.invalid == 1


def scripted_stream(packets: int, loss_every: int) -> Iterator[tuple[int, bytes]]:
    for seq in range(1, packets + 1):
        if seq % loss_every:
            yield seq, rtp(seq, bytes([0xFF]) * 160)


def test_loss_shows_in_quality() -> None:
    fake = Leg()
    for seq, packet in scripted_stream(401, loss_every=20):  # 5 % lost, the last arrives
        fake.leg.receive(packet, PEER, seq * PERIOD)
    quality = fake.leg.quality()
    assert quality["packets_received"] == 381
    assert quality["packets_lost"] == 20
    assert quality["loss_pct"] == pytest.approx(5.0, abs=0.3)
    assert quality["jitter_ms"] == pytest.approx(0.0, abs=0.01)
    assert quality["codec"] == "PCMU"
    assert 1.0 < float(quality["mos"]) < 4.4
    lossless = Leg()
    for seq in range(1, 101):
        lossless.leg.receive(rtp(seq, bytes(160)), PEER, seq * PERIOD)
    assert lossless.leg.quality()["packets_lost"] == 0
    assert lossless.leg.quality()["loss_pct"] == 0.0
    assert "rtt_ms" not in lossless.leg.quality()


def test_csrc_extension_and_padding_take_the_careful_path() -> None:
    fake = Leg()
    heard: list[npt.NDArray[np.int16]] = []
    fake.leg.attach_jitter_buffer()
    fake.leg.listeners.append(heard.append)
    pcm = ramp(3)
    frames = frames_of(pcm)
    EXTENSION = RtpExtension(0xBEDE, bytes(8))
    variants = [
        RtpPacket(0, 1, 160, PEER_SSRC, PCMU.encode(frames[0]), csrc=(7, 8)),
        RtpPacket(0, 2, 320, PEER_SSRC, PCMU.encode(frames[1]), extension=EXTENSION),
        RtpPacket(0, 3, 480, PEER_SSRC, PCMU.encode(frames[2]), padding=4),
    ]  # fmt: skip
    for i, packet in enumerate(variants):
        fake.leg.receive(bytes(packet), PEER, i * PERIOD)
        fake.leg.tick(i * PERIOD + 0.01)
    fake.leg.tick(3 * PERIOD + 0.01)
    assert fake.leg.receiver.packets == 3 and fake.leg.receiver.invalid == 1  # probation
    assert fake.leg.receiver.octets == 3 * 160  # payload only: no CSRC, extension, padding
    assert fake.leg.receiver.received == 2
    audio = [frame for frame in heard if frame is not SILENT_FRAME]
    assert len(audio) >= 3
    np.testing.assert_array_equal(np.concatenate(audio[:3]), g711(pcm))


def send_digit_packets(fake: Leg, digit: str, seq: int, ts: int, now: float) -> tuple[int, float]:
    sender = TelephoneEventSender(101)
    for p in sender.packets(digit, ts, duration_ms=100):
        fake.leg.receive(rtp(seq, p.payload, pt=101, ts=p.timestamp, marker=p.marker), PEER, now)
        fake.leg.tick(now)
        seq, now = seq + 1, now + PERIOD
    return seq, now


def test_rfc4733_digits_reach_on_digit_once() -> None:
    fake = Leg()
    seq, now = send_digit_packets(fake, "7", 10, 8000, 0.0)
    seq, now = send_digit_packets(fake, "#", seq, 16000, now)
    for _ in range(30):  # end timers run out: nothing more
        fake.leg.tick(now)
        now += PERIOD
    assert [(d.digit, d.source, d.duration_ms) for d in fake.digits] == [
        ("7", "rfc4733", 100),
        ("#", "rfc4733", 100),
    ]


def test_rfc4733_digit_whose_end_was_lost_is_reported_by_the_tick() -> None:
    fake = Leg()
    sender = TelephoneEventSender(101)
    updates = [p for p in sender.packets("3", 8000, duration_ms=100) if not p.is_end]
    for i, p in enumerate(updates):
        fake.leg.receive(rtp(i, p.payload, pt=101, ts=8000, marker=p.marker), PEER, i * PERIOD)
    assert fake.digits == []
    fake.leg.tick(1.0)
    assert [d.digit for d in fake.digits] == ["3"]


def test_malformed_telephone_event_is_dropped() -> None:
    fake = Leg()
    fake.leg.receive(rtp(1, b"\x01\x02\x03", pt=101), PEER, 0.0)
    fake.leg.tick(0.0)
    assert fake.digits == []


def test_inband_dtmf_from_pcmu_packets() -> None:
    fake = Leg(inband_dtmf=True, telephone_event_pt=None)
    assert fake.leg.jitter is not None
    pcm = np.concatenate([np.zeros(800, np.int16), dtmf_tone("8", 120), np.zeros(1600, np.int16)])
    pcm = pcm[: len(pcm) // FRAME_SAMPLES * FRAME_SAMPLES]
    for seq, frame in enumerate(frames_of(pcm), start=1):
        now = seq * PERIOD
        fake.leg.receive(rtp(seq, PCMU.encode(frame)), PEER, now)
        fake.leg.tick(now + 0.01)
    for i in range(3):
        fake.leg.tick(now + 0.03 + i * PERIOD)
    assert [(d.digit, d.source) for d in fake.digits] == [("8", "inband")]
    assert 100 <= fake.digits[0].duration_ms <= 140


def test_listeners_get_decoded_frames_in_order() -> None:
    fake = Leg()
    first: list[npt.NDArray[np.int16]] = []
    second: list[npt.NDArray[np.int16]] = []
    fake.leg.attach_jitter_buffer()
    fake.leg.listeners += [first.append, second.append]
    pcm = ramp(10)
    for seq, frame in enumerate(frames_of(pcm), start=1):
        fake.leg.receive(rtp(seq, PCMU.encode(frame)), PEER, seq * PERIOD)
        fake.leg.tick(seq * PERIOD + 0.01)
    fake.leg.tick(11 * PERIOD + 0.01)
    audio = [frame for frame in first if frame is not SILENT_FRAME]
    assert len(audio) == 10
    np.testing.assert_array_equal(np.concatenate(audio), g711(pcm))
    assert all(a is b for a, b in zip(first, second, strict=True))


def test_listeners_hear_silence_on_ticks_without_audio() -> None:
    # A phone that suppresses silence sends nothing: the endpointer's clock must run on.
    fake = Leg()
    heard: list[npt.NDArray[np.int16]] = []
    fake.leg.attach_jitter_buffer()
    fake.leg.listeners.append(heard.append)
    for tick in range(5):
        fake.leg.tick(tick * PERIOD)
    assert len(heard) == 5 and all(frame is SILENT_FRAME for frame in heard)
    assert not SILENT_FRAME.any()


def test_no_decoding_without_a_jitter_buffer() -> None:
    fake = Leg()
    fake.leg.receive(rtp(1, bytes(160)), PEER, 0.0)
    assert fake.leg.jitter is None
    assert fake.leg.receiver.packets == 1


def test_recorder_gets_heard_and_sent_every_tick() -> None:
    calls: list[tuple[npt.NDArray[np.int16] | None, npt.NDArray[np.int16] | None]] = []
    fake = Leg()
    fake.leg.attach_jitter_buffer()
    fake.leg.recorder = lambda heard, sent: calls.append((heard, sent))
    prompt = ramp(2)
    fake.leg.source = Player(prompt)
    caller = ramp(3)[::-1].copy()
    for seq, frame in enumerate(frames_of(caller), start=1):
        fake.leg.receive(rtp(seq, PCMU.encode(frame)), PEER, seq * PERIOD)
        fake.leg.tick(seq * PERIOD + 0.01)
    fake.leg.tick(4 * PERIOD + 0.01)
    assert len(calls) == 4
    sent = [s for _, s in calls]
    np.testing.assert_array_equal(np.concatenate(sent[:2]), prompt)  # type: ignore[arg-type]
    assert sent[2:] == [None, None]
    heard = [h for h, _ in calls]
    assert heard[0] is None  # still buffering
    np.testing.assert_array_equal(np.concatenate(heard[1:]), g711(caller))  # type: ignore[arg-type]


# -- robustness ---------------------------------------------------------------------------

datagrams = st.one_of(
    st.binary(max_size=64),
    st.builds(
        lambda first, second, rest: bytes([first, second]) + rest,
        st.sampled_from([0x80, 0x81, 0x90, 0xA0, 0xB1, 0x8F, 0x40]),
        st.sampled_from([0, 0x80, 101, 0x80 | 101, 8, 200]),
        st.binary(min_size=10, max_size=200),
    ),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(datagrams, max_size=12))
def test_fuzz_receive_never_raises(packets: list[bytes]) -> None:
    fake = Leg(inband_dtmf=True)
    for i, data in enumerate(packets):
        fake.leg.receive(data, PEER, i * 0.01)
        fake.leg.receive_rtcp(data, i * 0.01)
        fake.leg.tick(i * 0.01)
    fake.leg.quality()
    fake.leg.rtcp_report(1.0)


def test_short_and_bad_version_packets_counted_invalid() -> None:
    fake = Leg()
    for data in (b"", b"\x80", b"\x80" * 11, b"\x00" * 12, b"\xc0" + bytes(11)):
        fake.leg.receive(data, PEER, 0.0)
    assert fake.leg.receiver.invalid == 5
    assert fake.leg.receiver.packets == 0
    assert not fake.leg.latched


# -- RTCP ---------------------------------------------------------------------------------


def test_rtcp_report_before_and_after_receiving() -> None:
    fake = Leg()
    fake.ticks(3)
    sr, sdes = parse_rtcp(fake.leg.rtcp_report(0.06))
    assert isinstance(sr, SenderReport) and isinstance(sdes, SourceDescription)
    assert sr.ssrc == 0x11223344
    assert sr.packet_count == 3 and sr.octet_count == 480
    assert sr.rtp_timestamp == 50_000 + 3 * 160
    assert abs(sr.ntp_timestamp / 2**32 - 2_208_988_800 - time.time()) < 5
    assert sr.reports == ()
    assert sdes.chunks[0].ssrc == 0x11223344
    assert sdes.chunks[0].cname == "hotline-11223344"
    for seq, packet in scripted_stream(41, loss_every=10):
        fake.leg.receive(packet, PEER, seq * PERIOD)
    sr, _ = parse_rtcp(fake.leg.rtcp_report(1.0))
    assert isinstance(sr, SenderReport)
    (block,) = sr.reports
    assert block.ssrc == PEER_SSRC
    assert block.cumulative_lost == 4
    assert block.highest_sequence == 41


def test_receive_rtcp_sets_round_trip_time() -> None:
    fake = Leg()
    now = time.time()
    # We sent an SR 250 ms ago; the peer held it 200 ms: 50 ms round trip.
    block = ReportBlock(
        fake.leg.ssrc, lsr=ntp_middle(ntp_from_unix(now - 0.25)), dlsr=ntp_short(0.2)
    )
    other = ReportBlock(0x999, lsr=ntp_middle(ntp_from_unix(now - 5)), dlsr=0)
    report = ReceiverReport(PEER_SSRC, (other, block))
    fake.leg.receive_rtcp(serialize_rtcp([report]), 1.0)
    assert fake.leg.rtt_ms == pytest.approx(50, abs=30)
    assert fake.leg.quality()["rtt_ms"] == pytest.approx(50, abs=30)


def test_receive_rtcp_sender_report_feeds_our_lsr() -> None:
    fake = Leg()
    for seq in range(1, 5):
        fake.leg.receive(rtp(seq, bytes(160)), PEER, seq * PERIOD)
    ntp = ntp_from_unix(time.time())
    sr = SenderReport(PEER_SSRC, ntp, 640, 4, 640)
    fake.leg.receive_rtcp(serialize_rtcp([sr]), 0.1)
    assert fake.leg.rtt_ms is None  # an SR with no block about us
    report, _ = parse_rtcp(fake.leg.rtcp_report(0.6))
    assert isinstance(report, SenderReport)
    assert report.reports[0].lsr == ntp_middle(ntp)
    assert report.reports[0].dlsr == pytest.approx(ntp_short(0.5), abs=2)


def test_garbage_rtcp_is_counted_not_raised() -> None:
    fake = Leg()
    fake.leg.receive_rtcp(b"\x80\xc8\x00\x10", 0.0)  # claims more than it has
    assert fake.leg.receiver.invalid == 1
    assert fake.leg.rtt_ms is None
