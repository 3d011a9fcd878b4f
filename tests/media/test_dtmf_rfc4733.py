"""RFC 4733 telephone-events: payload codec, receiver state machine, sender, round trips.

Real vectors: SIPp's captures ``/usr/share/sip-tester/dtmf_2833_<digit>.pcap`` (Debian
package sip-tester), each one key press of 280 ms sent as RFC 2833/4733 events with
payload type 101: a marked first packet of duration 0, updates every 20 ms, and the end
packet (E bit) three times.  Handmade payloads follow the §2.3 layout.
"""

from __future__ import annotations

import contextlib
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from media.dtmf import (
    DIGITS,
    DtmfDigit,
    DtmfError,
    DtmfUsageError,
    TelephoneEvent,
    TelephoneEventPacket,
    TelephoneEventReceiver,
    TelephoneEventSender,
    parse_payload,
)

from .pcap import SIPP_PCAPS, read_udp

PCAP_DIGITS = {**{str(d): str(d) for d in range(10)}, "star": "*", "pound": "#"}


def rtp_packets(path: Path) -> list[tuple[float, bool, int, int, bytes]]:
    """(time, marker, payload type, timestamp, payload) of the RTP packets in a capture.

    RFC 3550 §5.1: 12-byte fixed header, then 4 bytes per CSRC; no extensions here.
    """
    packets = []
    for datagram in read_udp(path):
        data = datagram.payload
        first, second, _seq, timestamp = struct.unpack_from("!BBHI", data)
        assert first >> 6 == 2 and not first & 0x30, "RTP v2 without padding or extension"
        header = 12 + 4 * (first & 0x0F)
        packets.append(
            (datagram.time, bool(second & 0x80), second & 0x7F, timestamp, data[header:])
        )
    return packets


def ev(event: int, end: bool = False, volume: int = 10, duration: int = 0) -> bytes:
    """A §2.3 event block: event, E|R|volume, duration (network order)."""
    return bytes([event, (0x80 if end else 0) | volume]) + duration.to_bytes(2, "big")


def feed(
    receiver: TelephoneEventReceiver, packets: list[tuple[bytes, int, bool]], start: float = 0.0
) -> list[DtmfDigit]:
    """Feeds (payload, timestamp, marker) packets 20 ms apart; returns all digits."""
    digits: list[DtmfDigit] = []
    for i, (payload, timestamp, marker) in enumerate(packets):
        digits += receiver.receive(payload, timestamp, marker, start + i * 0.02)
    return digits


def press(
    event: int, timestamp: int, updates: int = 4, step: int = 160, ends: int = 3
) -> list[tuple[bytes, int, bool]]:
    """Packets of one well-formed press: marked start, updates, the end sent ``ends`` times."""
    packets = [(ev(event, duration=step), timestamp, True)]
    packets += [(ev(event, duration=step * (i + 1)), timestamp, False) for i in range(1, updates)]
    final = ev(event, end=True, duration=step * (updates + 1))
    return packets + [(final, timestamp, False)] * ends


# -- the SIPp captures ----------------------------------------------------------------------


@pytest.mark.peer
@pytest.mark.parametrize("name", sorted(PCAP_DIGITS))
def test_sipp_capture_gives_its_digit_once(name: str) -> None:
    packets = rtp_packets(SIPP_PCAPS / f"dtmf_2833_{name}.pcap")
    assert len(packets) == 10 and all(pt == 101 for _, _, pt, _, _ in packets)
    receiver = TelephoneEventReceiver()
    digits = []
    for time, marker, _pt, timestamp, payload in packets:
        digits += receiver.receive(payload, timestamp, marker, time)
    digits += receiver.handle_timer(packets[-1][0] + 10)
    # 0x08c0 = 2240 samples at 8 kHz.
    assert digits == [DtmfDigit(PCAP_DIGITS[name], "rfc4733", 280, packets[0][0])]
    assert receiver.next_timer() is None


@pytest.mark.peer
def test_sipp_capture_payloads_round_trip() -> None:
    for _, _, _, _, payload in rtp_packets(SIPP_PCAPS / "dtmf_2833_5.pcap"):
        (block,) = parse_payload(payload)
        assert block.event == 5 and block.volume == 10
        assert bytes(block) == payload


# -- payload codec (§2.3) -------------------------------------------------------------------


def test_parse_block_fields() -> None:
    assert TelephoneEvent.parse(bytes.fromhex("0b8a08c0")) == TelephoneEvent(11, True, 10, 2240)
    # The R bit is ignored on receipt (§2.3.3) and sent as zero.
    block = TelephoneEvent.parse(bytes.fromhex("05ff0001"))
    assert block == TelephoneEvent(5, True, 63, 1)
    assert bytes(block) == bytes.fromhex("05bf0001")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "telephone-event payload is 0 bytes, not a multiple of 4"),
        (bytes.fromhex("050a00"), "telephone-event payload is 3 bytes, not a multiple of 4"),
        (bytes.fromhex("050a00a006"), "telephone-event payload is 5 bytes, not a multiple of 4"),
        (ev(1, duration=800) + ev(2), "telephone-event block 1 of 2 lacks the E bit"),
    ],
)
def test_invalid_payloads(payload: bytes, message: str) -> None:
    with pytest.raises(DtmfError) as info:
        parse_payload(payload)
    assert str(info.value) == message
    receiver = TelephoneEventReceiver()
    with pytest.raises(DtmfError, match="^" + message + "$"):
        receiver.receive(payload, 0, True, 0.0)
    assert receiver.next_timer() is None  # state untouched


def test_invalid_block_size() -> None:
    with pytest.raises(DtmfError, match=r"^telephone-event block is 5 bytes, expected 4$"):
        TelephoneEvent.parse(b"12345")


def test_event_fields_out_of_range_are_local_errors() -> None:
    with pytest.raises(DtmfUsageError, match=r"^duration 65536 out of range 0\.\.65535$"):
        TelephoneEvent(1, False, 10, 0x10000)
    with pytest.raises(DtmfUsageError, match=r"^event 1 / volume 64 out of range$"):
        TelephoneEvent(1, False, 64, 0)


@given(st.binary(max_size=24))
def test_fuzz_payload_parses_or_raises_dtmf_error(payload: bytes) -> None:
    try:
        blocks = parse_payload(payload)
    except DtmfError:
        return
    assert b"".join(bytes(b) for b in blocks) == bytes(
        byte & 0xBF if i % 4 == 1 else byte for i, byte in enumerate(payload)
    )


@given(
    st.lists(
        st.tuples(st.binary(max_size=12), st.integers(0, 2**32 - 1), st.booleans()), max_size=30
    )
)
def test_fuzz_receiver_never_fails_otherwise(packets: list[tuple[bytes, int, bool]]) -> None:
    receiver = TelephoneEventReceiver()
    digits = []
    for i, (payload, timestamp, marker) in enumerate(packets):
        with contextlib.suppress(DtmfError):
            digits += receiver.receive(payload, timestamp, marker, i * 0.02)
    digits += receiver.handle_timer(1e9)
    assert all(d.digit in DIGITS and d.duration_ms >= 0 for d in digits)
    assert receiver.next_timer() is None


# -- receiver state machine ---------------------------------------------------------------


def test_end_packet_retransmissions_give_one_digit() -> None:
    receiver = TelephoneEventReceiver()
    digits = feed(receiver, press(7, 1000))
    assert digits == [DtmfDigit("7", "rfc4733", 100, 0.0)]
    assert receiver.next_timer() is None


def test_digit_is_emitted_on_the_first_end_packet() -> None:
    receiver = TelephoneEventReceiver()
    packets = press(3, 50)
    assert feed(receiver, packets[:4]) == []
    assert receiver.receive(*packets[4], 0.3) == [DtmfDigit("3", "rfc4733", 100, 0.0)]
    assert receiver.receive(*packets[5], 0.32) == []


def test_missing_end_times_out() -> None:
    receiver = TelephoneEventReceiver(end_timeout=0.25)
    feed(receiver, press(9, 4000, ends=0), start=10.0)  # last packet at 10.06
    assert receiver.next_timer() == pytest.approx(10.31)
    assert receiver.handle_timer(10.3) == []
    assert receiver.handle_timer(10.32) == [DtmfDigit("9", "rfc4733", 80, 10.0)]
    assert receiver.next_timer() is None
    # A late end packet of the timed-out event is not a new press.
    assert receiver.receive(ev(9, end=True, duration=800), 4000, False, 10.4) == []


def test_new_timestamp_ends_event_whose_end_was_lost() -> None:
    receiver = TelephoneEventReceiver()
    digits = feed(receiver, press(1, 0, ends=0) + press(2, 2000))
    assert [(d.digit, d.duration_ms, d.at) for d in digits] == [
        ("1", 80, 0.0),
        ("2", 100, pytest.approx(0.08)),
    ]


def test_same_key_twice_is_two_digits() -> None:
    receiver = TelephoneEventReceiver()
    digits = feed(receiver, press(5, 0) + press(5, 1600))
    assert [d.digit for d in digits] == ["5", "5"]


def test_lost_first_packet_starts_on_the_next() -> None:
    receiver = TelephoneEventReceiver()
    digits = feed(receiver, press(4, 320)[1:])
    assert [(d.digit, d.duration_ms) for d in digits] == [("4", 100)]


def test_only_end_packets_received() -> None:
    receiver = TelephoneEventReceiver()
    digits = feed(receiver, press(0, 320)[-3:])
    assert [(d.digit, d.duration_ms) for d in digits] == [("0", 100)]


def test_reordered_and_late_packets_are_ignored() -> None:
    receiver = TelephoneEventReceiver()
    first = press(6, 8000)
    # An update overtaken by the end packet, then an update of the old event after a new
    # event began (no marker: late), then the new event's end.
    packets = [*first[:2], first[4], first[3], first[2]]
    second = press(8, 9600)
    packets += [second[0], first[1], *second[1:]]
    digits = feed(receiver, packets)
    assert [(d.digit, d.duration_ms) for d in digits] == [("6", 100), ("8", 100)]


def test_shorter_duration_update_does_not_shrink_the_event() -> None:
    receiver = TelephoneEventReceiver()
    packets = [(ev(2, duration=800), 0, True), (ev(2, duration=480), 0, False)]
    packets.append((ev(2, end=True, duration=640), 0, False))  # retransmission mix-up
    assert [d.duration_ms for d in feed(receiver, packets)] == [100]


def test_timestamp_wraps_around() -> None:
    receiver = TelephoneEventReceiver()
    digits = feed(receiver, press(1, 2**32 - 100) + press(2, 1500))
    assert [d.digit for d in digits] == ["1", "2"]


def test_marker_restarts_even_with_an_older_timestamp() -> None:
    # A sender that reset its timestamp base: the marker says "new event" (§2.5.1.1).
    receiver = TelephoneEventReceiver()
    digits = feed(receiver, press(1, 90_000) + press(2, 10))
    assert [d.digit for d in digits] == ["1", "2"]


def test_flash_and_other_events_are_counted_not_reported() -> None:
    receiver = TelephoneEventReceiver()
    digits = feed(receiver, press(16, 0) + press(5, 1600) + press(200, 3200, ends=0))
    digits += receiver.handle_timer(100.0)
    assert [d.digit for d in digits] == ["5"]
    assert receiver.ignored_events == 2


def test_long_press_segments_count_once() -> None:
    """§2.5.1.3: a 10 s press is a 0xFFFF segment, then one starting 0xFFFF later."""
    receiver = TelephoneEventReceiver()
    packets = [(ev(5, duration=160), 7000, True), (ev(5, duration=0xFFF0), 7000, False)]
    packets += [(ev(5, duration=0xFFFF), 7000, False)] * 3  # segment end: no E bit
    second = 7000 + 0xFFFF
    packets += [(ev(5, duration=160), second, False)]
    packets += [(ev(5, end=True, duration=14465), second, False)] * 3
    digits = feed(receiver, packets)
    assert [(d.digit, d.duration_ms, d.at) for d in digits] == [("5", 10_000, 0.0)]


def test_long_press_whose_segment_end_was_lost() -> None:
    receiver = TelephoneEventReceiver()
    packets = [(ev(5, duration=0xFFFF - 160), 0, True)]
    packets += [(ev(5, end=True, duration=320), 0xFFFF, False)]
    assert [d.duration_ms for d in feed(receiver, packets)] == [round((0xFFFF + 320) / 8)]


def test_duration_wrap_under_one_timestamp_is_counted_once() -> None:
    """RFC 2833-era senders let the 16-bit field wrap instead of segmenting."""
    receiver = TelephoneEventReceiver()
    packets = [(ev(9, duration=0xFF00), 0, True), (ev(9, duration=0x0100), 0, False)]
    packets.append((ev(9, end=True, duration=0x0200), 0, False))
    assert [d.duration_ms for d in feed(receiver, packets)] == [round(0x10200 / 8)]


def test_packed_events_in_one_packet() -> None:
    """§2.5.1.5: finished events first, each starting where the previous one ended."""
    receiver = TelephoneEventReceiver()
    payload = ev(1, end=True, duration=800) + ev(2, duration=160)
    digits = receiver.receive(payload, 1000, True, 0.0)
    assert [d.digit for d in digits] == ["1"]
    # The same packet again (retransmission), then the second event continuing alone.
    assert receiver.receive(payload, 1000, True, 0.02) == []
    digits = receiver.receive(ev(2, end=True, duration=480), 1800, False, 0.04)
    assert [(d.digit, d.duration_ms) for d in digits] == [("2", 60)]


def test_wideband_clock() -> None:
    receiver = TelephoneEventReceiver(clock_rate=16000)
    digits = feed(receiver, press(1, 0, step=320))
    assert [d.duration_ms for d in digits] == [100]


def test_receiver_arguments() -> None:
    with pytest.raises(DtmfUsageError, match=r"^clock_rate and end_timeout must be positive$"):
        TelephoneEventReceiver(end_timeout=0)


# -- sender (§2.5.1) ------------------------------------------------------------------------


def test_sender_packets_of_one_press() -> None:
    sender = TelephoneEventSender(101)
    packets = sender.packets("5", 123_456, duration_ms=100, volume=10)
    assert [p.payload.hex() for p in packets] == [
        "050a00a0",
        "050a0140",
        "050a01e0",
        "050a0280",
        "058a0320",
        "058a0320",
        "058a0320",
    ]
    assert [p.marker for p in packets] == [True] + [False] * 6
    assert [p.is_end for p in packets] == [False] * 4 + [True] * 3
    assert {p.timestamp for p in packets} == {123_456}
    assert sender.payload_type == 101


def test_sender_short_press_is_all_end_packets() -> None:
    packets = TelephoneEventSender(96).packets("#", 0, duration_ms=10)
    assert packets == [
        TelephoneEventPacket(bytes.fromhex("0b8a0050"), 0, True, True),
        TelephoneEventPacket(bytes.fromhex("0b8a0050"), 0, False, True),
        TelephoneEventPacket(bytes.fromhex("0b8a0050"), 0, False, True),
    ]


def test_sender_long_press_is_segmented() -> None:
    packets = TelephoneEventSender(101).packets("1", 2**32 - 10, duration_ms=9000)
    first = [p for p in packets if p.timestamp == 2**32 - 10]
    second = [p for p in packets if p.timestamp == 0xFFFF - 10]
    assert len(first) + len(second) == len(packets)
    assert [TelephoneEvent.parse(p.payload) for p in first[-3:]] == [
        TelephoneEvent(1, False, 10, 0xFFFF)
    ] * 3
    assert not any(p.marker for p in second) and not any(p.is_end for p in first)
    assert TelephoneEvent.parse(second[-1].payload) == TelephoneEvent(1, True, 10, 72000 - 0xFFFF)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("X", 0), "not a DTMF digit: 'X' (expected one of 0123456789*#ABCD)"),
        (("12", 0), "not a DTMF digit: '12' (expected one of 0123456789*#ABCD)"),
        (("1", 0, 0), "duration must be positive, not 0 ms"),
        (("1", 0, 100, 64), "volume 64 out of range 0..63 (-dBm0)"),
    ],
)
def test_sender_misuse(args: tuple, message: str) -> None:
    with pytest.raises(DtmfUsageError) as info:
        TelephoneEventSender(101).packets(*args)
    assert str(info.value) == message


def test_sender_arguments() -> None:
    with pytest.raises(DtmfUsageError, match=r"^payload type 128 out of range 0\.\.127$"):
        TelephoneEventSender(128)


# -- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("duration_ms", [10, 40, 100, 280, 1000, 8200, 20_000])
def test_round_trip_every_digit(duration_ms: int) -> None:
    sender, receiver = TelephoneEventSender(101), TelephoneEventReceiver()
    digits = []
    timestamp = 2**32 - 3000  # wraps during the run
    for i, digit in enumerate(DIGITS + DIGITS.lower()):
        packets = sender.packets(digit, timestamp, duration_ms=duration_ms)
        start = i * 100.0
        digits += feed(receiver, [(p.payload, p.timestamp, p.marker) for p in packets], start)
        timestamp = (timestamp + duration_ms * 8 + 800) % 2**32
    expected = [DtmfDigit(d, "rfc4733", duration_ms, i * 100.0) for i, d in enumerate(DIGITS * 2)]
    assert digits == expected
    assert receiver.next_timer() is None


def test_round_trip_with_lost_packets() -> None:
    sender, receiver = TelephoneEventSender(101), TelephoneEventReceiver()
    packets = sender.packets("D", 0, duration_ms=200)
    lost = (0, 3, 10, 11)  # the marked first packet, an update, two of the end packets
    kept = [p for i, p in enumerate(packets) if i not in lost]
    digits = feed(receiver, [(p.payload, p.timestamp, p.marker) for p in kept])
    assert [(d.digit, d.duration_ms) for d in digits] == [("D", 200)]
