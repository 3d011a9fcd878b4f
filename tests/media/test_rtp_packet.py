"""RTP packets (RFC 3550 §5.1): captured and handmade vectors, invalid twins, fuzzing."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from media.rtp.packet import RtpError, RtpExtension, RtpPacket, is_rtcp
from tests.media.pcap import SIPP_PCAPS, read_udp

DATA = Path(__file__).parent / "data" / "rtp"

# name -> the fields the file must parse into (see data/rtp/README.md for provenance)
VECTORS: dict[str, dict[str, object]] = {
    "rtp_pcma": dict(
        payload_type=8, marker=True, sequence_number=59133, timestamp=240,
        ssrc=0xDEE0EE8F, csrc=(), extension=None, padding=0,
    ),
    "rtp_dtmf": dict(
        payload_type=101, marker=True, sequence_number=7984, timestamp=13280,
        ssrc=0x0E05384E, payload=bytes.fromhex("010a0000"), padding=0,
    ),
    "rtp_csrc_extension": dict(
        payload_type=0, marker=False, sequence_number=65535, timestamp=0xFFFFFF60,
        ssrc=0x01020304, csrc=(0x11111111, 0x22222222),
        extension=RtpExtension(0xBEDE, bytes.fromhex("10aa0000")), payload=b"\xff" * 160,
    ),
    "rtp_padding": dict(
        payload_type=0, marker=True, sequence_number=0, timestamp=0, ssrc=0xDEADBEEF,
        payload=bytes(range(160)), padding=4,
    ),
    "rtp_csrc15": dict(
        payload_type=0, sequence_number=1000, timestamp=8000, ssrc=0xCAFEBABE,
        csrc=tuple(range(0x1000, 0x100F)), payload=b"",
    ),
}  # fmt: skip

INVALID = {
    "rtp_pcma": "RTP packet too short: 11 bytes, the fixed header needs 12",
    "rtp_dtmf": "RTP version 1, expected 2",
    "rtp_csrc_extension": "header extension overruns packet: 1 words need 28 bytes, packet has 26",
    "rtp_padding": "bad padding: count 255 with 164 bytes after the header",
    "rtp_csrc15": "CSRC list overruns packet: 15 CSRCs need 72 bytes, packet has 40",
}


def load(name: str) -> bytes:
    return (DATA / f"{name}.bin").read_bytes()


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_vector_parses_into_its_fields_and_round_trips(name: str) -> None:
    data = load(name)
    packet = RtpPacket.parse(data)
    for field, value in VECTORS[name].items():
        assert getattr(packet, field) == value, field
    assert bytes(packet) == data


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_twin_names_the_fault(name: str) -> None:
    with pytest.raises(RtpError) as info:
        RtpPacket.parse(load(f"{name}_invalid"))
    assert str(info.value) == INVALID[name]


def test_every_vector_has_an_invalid_twin() -> None:
    valid = {path.stem for path in DATA.glob("rtp_*.bin") if not path.stem.endswith("_invalid")}
    assert valid == set(VECTORS) == set(INVALID)


needs_sipp = pytest.mark.peer  # make test installs it; never skipped


@needs_sipp
def test_captured_vectors_are_the_packets_in_the_sipp_captures() -> None:
    assert load("rtp_pcma") == read_udp(SIPP_PCAPS / "g711a.pcap")[0].payload
    assert load("rtp_dtmf") == read_udp(SIPP_PCAPS / "dtmf_2833_1.pcap")[0].payload


@needs_sipp
@pytest.mark.parametrize("capture", ["g711a.pcap", "dtmf_2833_pound.pcap", "dtmf_2833_star.pcap"])
def test_every_captured_packet_round_trips(capture: str) -> None:
    datagrams = read_udp(SIPP_PCAPS / capture)
    assert datagrams
    for datagram in datagrams:
        packet = RtpPacket.parse(datagram.payload)
        assert bytes(packet) == datagram.payload
        assert not is_rtcp(datagram.payload)


def test_truncations_parse_or_raise_rtp_error() -> None:
    # Byte by byte: every prefix of a packet with a header extension and CSRCs.
    data = load("rtp_csrc_extension")
    for size in range(len(data) + 1):
        try:
            packet = RtpPacket.parse(data[:size])
        except RtpError:
            assert size < 28  # header, 2 CSRCs, extension header and its word
        else:
            assert packet.payload == data[28:size]


def test_parsed_payload_does_not_alias_the_receive_buffer() -> None:
    data = bytearray(load("rtp_pcma"))
    packet = RtpPacket.parse(bytes(data))
    data[20] ^= 0xFF
    assert packet.payload == load("rtp_pcma")[12:]


@pytest.mark.parametrize(
    ("packet", "message"),
    [
        (RtpPacket(128, 0, 0, 0), "payload type 128 does not fit in 7 bits"),
        (RtpPacket(0, 0, 0, 0, csrc=tuple(range(16))), "16 CSRCs, at most 15 fit"),
        (RtpPacket(0, 0, 0, 0, padding=256), "padding 256 does not fit in one octet"),
        (
            RtpPacket(0, 0, 0, 0, extension=RtpExtension(1, b"abc")),
            "header extension data must be a multiple of 4 octets",
        ),
    ],
)
def test_serializing_fields_that_do_not_fit_is_local_misuse(
    packet: RtpPacket, message: str
) -> None:
    with pytest.raises(ValueError, match=message) as info:
        bytes(packet)
    assert not isinstance(info.value, RtpError)


@pytest.mark.parametrize(
    ("second_byte", "expected"),
    [(0x00, False), (0x88, False), (0xBF, False), (0xC0, True), (0xC8, True), (0xCF, True),
     (0xDF, True), (0xE0, False), (0x48, False)],
)  # fmt: skip
def test_is_rtcp_uses_the_rfc_5761_ranges(second_byte: int, expected: bool) -> None:
    assert is_rtcp(bytes((0x80, second_byte, 0, 1))) is expected


def test_is_rtcp_on_short_datagrams() -> None:
    assert not is_rtcp(b"")
    assert not is_rtcp(b"\x80")


def test_is_rtcp_on_the_rtcp_vectors() -> None:
    for path in DATA.glob("rtcp_*.bin"):
        if not path.stem.endswith("_invalid"):
            assert is_rtcp(path.read_bytes()), path.name


packets = st.builds(
    RtpPacket,
    payload_type=st.integers(0, 127),
    sequence_number=st.integers(0, 0xFFFF),
    timestamp=st.integers(0, 0xFFFFFFFF),
    ssrc=st.integers(0, 0xFFFFFFFF),
    payload=st.binary(max_size=64),
    marker=st.booleans(),
    csrc=st.lists(st.integers(0, 0xFFFFFFFF), max_size=15).map(tuple),
    extension=st.none()
    | st.builds(
        RtpExtension,
        profile=st.integers(0, 0xFFFF),
        data=st.integers(0, 4).flatmap(
            lambda words: st.binary(min_size=4 * words, max_size=4 * words)
        ),
    ),
    padding=st.integers(0, 255),
)


@given(packets)
def test_round_trip(packet: RtpPacket) -> None:
    assert RtpPacket.parse(bytes(packet)) == packet


@given(st.binary(max_size=80))
def test_fuzz_parse_or_raise_rtp_error(data: bytes) -> None:
    try:
        packet = RtpPacket.parse(data)
    except RtpError:
        return
    assert packet.payload in data
