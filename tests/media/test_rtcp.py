"""RTCP (RFC 3550 §6.4-6.6): SR/RR/SDES/BYE, compound packets, NTP time, invalid twins."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from media.rtp.rtcp import (
    NTP_UNIX_OFFSET,
    SDES_CNAME,
    SDES_TOOL,
    Bye,
    ReceiverReport,
    ReportBlock,
    RtcpCompound,
    RtcpError,
    SdesChunk,
    SdesItem,
    SenderReport,
    SourceDescription,
    UnknownRtcp,
    ntp_from_unix,
    ntp_middle,
    ntp_short,
    parse_rtcp,
    round_trip_time,
    serialize_rtcp,
    unix_from_ntp,
)

DATA = Path(__file__).parent / "data" / "rtp"

SR_SDES_BYE = [
    SenderReport(
        ssrc=0x11223344,
        ntp_timestamp=(3_900_000_000 << 32) | 0x80000000,
        rtp_timestamp=123456,
        packet_count=100,
        octet_count=16000,
        reports=(ReportBlock(0x55667788, 26, 5, 0x1000A, 40, 0xE8D4A500, 65536),),
    ),
    SourceDescription((SdesChunk(0x11223344, (SdesItem(SDES_CNAME, b"agent@hotline.example"),)),)),
    Bye((0x11223344,), b"call ended"),
]
RR_SDES = [
    ReceiverReport(
        0x99887766,
        (
            ReportBlock(0xAABBCCDD, 0, 0, 65540, 7, 0, 0),
            ReportBlock(0x01010101, 0, -3, 0x20003, 0x12345, 0x12345678, 0x28000),
        ),
    ),
    SourceDescription(
        (SdesChunk(0x99887766, (SdesItem(SDES_CNAME, b"a@b1"), SdesItem(SDES_TOOL, b"Hotline"))),)
    ),
]
RR_XR = [
    ReceiverReport(0x0BADCAFE),
    UnknownRtcp(207, 0, bytes.fromhex("0badcafe04000002e875470080000000")),
]
VECTORS = {"rtcp_sr_sdes_bye": SR_SDES_BYE, "rtcp_rr_sdes": RR_SDES, "rtcp_rr_xr_padded": RR_XR}

INVALID = {
    "rtcp_sr_sdes_bye": "RTCP length overruns datagram: packet at offset 84 claims 24 bytes, "
    "20 remain",
    "rtcp_rr_sdes": "SDES item of 200 octets overruns the chunk of SSRC 0x99887766",
    "rtcp_rr_xr_padded": "padding bit set on the RTCP packet at offset 0, not the last",
}


def load(name: str) -> bytes:
    return (DATA / f"{name}.bin").read_bytes()


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_vector_parses_into_its_packets(name: str) -> None:
    assert parse_rtcp(load(name)) == VECTORS[name]


@pytest.mark.parametrize("name", ["rtcp_sr_sdes_bye", "rtcp_rr_sdes"])
def test_vector_round_trips_byte_for_byte(name: str) -> None:
    data = load(name)
    assert serialize_rtcp(parse_rtcp(data)) == data
    assert bytes(RtcpCompound.parse(data)) == data


def test_padding_is_stripped_and_never_written() -> None:
    data = load("rtcp_rr_xr_padded")
    again = serialize_rtcp(parse_rtcp(data))
    assert len(again) == len(data) - 4
    assert again[8] & 0x20 == 0  # the XR's P bit
    assert parse_rtcp(again) == RR_XR


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_twin_names_the_fault(name: str) -> None:
    with pytest.raises(RtcpError) as info:
        parse_rtcp(load(f"{name}_invalid"))
    assert str(info.value) == INVALID[name]


def test_every_vector_has_an_invalid_twin() -> None:
    valid = {p.stem for p in DATA.glob("rtcp_*.bin") if not p.stem.endswith("_invalid")}
    assert valid == set(VECTORS) == set(INVALID)


def test_compound_sr_sdes_bye_built_from_objects_round_trips() -> None:
    sender = SenderReport(7, ntp_from_unix(1_700_000_000.25), 8000, 50, 8000)
    compound = [sender, SourceDescription.with_cname(7, "hotline@192.0.2.1"), Bye((7,))]
    data = serialize_rtcp(compound)
    assert parse_rtcp(data) == compound
    assert RtcpCompound.parse(data) == RtcpCompound(tuple(compound))
    assert parse_rtcp(data)[1].chunks[0].cname == "hotline@192.0.2.1"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "packet",
    [
        SR_SDES_BYE[0],
        RR_SDES[0],
        RR_SDES[1],
        Bye((1, 2, 3)),
        Bye((), b""),
        Bye((9,), b"x" * 255),
        UnknownRtcp(204, 3, b"name" + b"data"),
    ],
)
def test_single_packet_parse_classmethods(packet: object) -> None:
    data = bytes(packet)  # type: ignore[call-overload]
    assert type(packet).parse(data) == packet  # type: ignore[attr-defined]
    assert len(data) % 4 == 0


def test_single_packet_parse_rejects_another_type() -> None:
    with pytest.raises(RtcpError, match=r"^expected one SenderReport, found ReceiverReport$"):
        SenderReport.parse(bytes(ReceiverReport(1)))
    with pytest.raises(RtcpError, match=r"^expected one Bye, found ReceiverReport, Bye$"):
        Bye.parse(bytes(ReceiverReport(1)) + bytes(Bye((1,))))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "RTCP packet too short: 0 bytes at offset 0, the header needs 4"),
        (bytes(ReceiverReport(1)) + b"\x81", "RTCP packet too short: 1 bytes at offset 8, the "
         "header needs 4"),
        (b"\x40\xc9\x00\x00", "RTCP version 1 at offset 0, expected 2"),
        (b"\x80\xc8\x00\x01\x00\x00\x00\x01", "SR too short: 8 bytes, sender info needs 28"),
        (b"\x80\xc9\x00\x00", "RR too short: 4 bytes, the SSRC needs 8"),
        (b"\x81\xc9\x00\x01\x00\x00\x00\x01", "RR too short: 1 report blocks need 32 bytes, "
         "have 8"),
        (b"\x82\xcb\x00\x01\x00\x00\x00\x01", "BYE too short: 2 sources need 12 bytes, have 8"),
        (b"\x81\xcb\x00\x02\x00\x00\x00\x01\x09ab\x00", "BYE reason of 9 octets overruns "
         "packet"),
        (b"\x82\xca\x00\x02\x00\x00\x00\x01\x00\x00\x00\x00", "SDES count 2 but only 1 chunks "
         "present"),
        (b"\x81\xca\x00\x02\x00\x00\x00\x01\x01\x02ab", "SDES chunk of SSRC 0x00000001 has no "
         "terminating null item"),
        (b"\xa0\xc9\x00\x01\x00\x00\x00\x00", "bad RTCP padding: count 0 with 4 body bytes"),
        (b"\xa0\xc9\x00\x01\x00\x00\x00\x05", "bad RTCP padding: count 5 with 4 body bytes"),
    ],
)  # fmt: skip
def test_faults_are_named(data: bytes, message: str) -> None:
    with pytest.raises(RtcpError) as info:
        parse_rtcp(data)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("packet", "message"),
    [
        (ReceiverReport(1, (ReportBlock(2),) * 32), "32 report blocks, at most 31 fit"),
        (ReportBlock(1, cumulative_lost=1 << 23), "cumulative lost 8388608 does not fit"),
        (Bye((1,), b"x" * 256), "BYE reason of 256 octets, at most 255 fit"),
        (UnknownRtcp(204, 0, b"abc"), "RTCP body of 3 octets is not a whole number of words"),
        (Bye(tuple(range(32))), "count 32 does not fit in the 5-bit field"),
    ],
)
def test_serializing_what_does_not_fit_is_local_misuse(packet: object, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        bytes(packet)  # type: ignore[call-overload]
    assert not isinstance(info.value, RtcpError)


def test_report_block_cumulative_lost_is_signed_24_bit() -> None:
    for lost in (-(1 << 23), -1, 0, 1, (1 << 23) - 1):
        block = ReportBlock(1, 255, lost, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF)
        assert ReportBlock.parse(bytes(block)) == block


# --- NTP time -------------------------------------------------------------------------


def test_ntp_epoch_and_fraction() -> None:
    assert ntp_from_unix(0) == NTP_UNIX_OFFSET << 32
    assert ntp_from_unix(0.5) == (NTP_UNIX_OFFSET << 32) | 0x80000000
    assert unix_from_ntp(ntp_from_unix(1_700_000_000.125)) == 1_700_000_000.125
    assert ntp_short(5.25) == 0x00054000
    assert ntp_short(-1) == 0
    assert ntp_short(1e9) == 0xFFFFFFFF


# RFC 3550 §6.4.1 Figure 2: SR sent 10 Nov 1995 11:33:25.125 UTC (ntp_sec 0xb44db705,
# ntp_frac 0x20000000), RR with LSR 0xb705:2000 and DLSR 0x0005:4000 arrives at
# A = 0xb710:8000 (11:33:36.5 UTC); round-trip delay 0x0006:2000 = 6.125 s.
RFC_SR_NTP = (0xB44DB705 << 32) | 0x20000000
RFC_A_UNIX = unix_from_ntp((0xB44DB710 << 32) | 0x80000000)


def test_rfc_3550_figure_2_timestamps() -> None:
    sent = datetime.fromtimestamp(unix_from_ntp(RFC_SR_NTP), UTC)
    assert sent == datetime(1995, 11, 10, 11, 33, 25, 125000, UTC)
    assert ntp_middle(RFC_SR_NTP) == 0xB7052000
    assert ntp_middle(ntp_from_unix(RFC_A_UNIX)) == 0xB7108000


def test_rfc_3550_figure_2_round_trip_time() -> None:
    block = ReportBlock(1, lsr=0xB7052000, dlsr=0x00054000)
    assert round_trip_time(block, RFC_A_UNIX) == 6.125


def test_round_trip_time_without_sr_and_with_clock_step() -> None:
    assert round_trip_time(ReportBlock(1), RFC_A_UNIX) is None
    assert round_trip_time(ReportBlock(1, lsr=0xB7108000, dlsr=0x10000), RFC_A_UNIX) == 0.0


# --- fuzzing --------------------------------------------------------------------------

blocks = st.builds(
    ReportBlock,
    ssrc=st.integers(0, 0xFFFFFFFF),
    fraction_lost=st.integers(0, 255),
    cumulative_lost=st.integers(-(1 << 23), (1 << 23) - 1),
    highest_sequence=st.integers(0, 0xFFFFFFFF),
    jitter=st.integers(0, 0xFFFFFFFF),
    lsr=st.integers(0, 0xFFFFFFFF),
    dlsr=st.integers(0, 0xFFFFFFFF),
)
words = st.integers(0, 3).flatmap(lambda n: st.binary(min_size=4 * n, max_size=4 * n))
u32 = st.integers(0, 0xFFFFFFFF)
rtcp_packets = st.one_of(
    st.builds(
        SenderReport, u32, st.integers(0, (1 << 64) - 1), u32, u32, u32,
        st.lists(blocks, max_size=3).map(tuple), words,
    ),
    st.builds(ReceiverReport, u32, st.lists(blocks, max_size=3).map(tuple), words),
    st.builds(
        SourceDescription,
        st.lists(
            st.builds(
                SdesChunk, u32,
                st.lists(st.builds(SdesItem, st.integers(1, 8), st.binary(max_size=20)),
                         max_size=3).map(tuple),
            ),
            max_size=3,
        ).map(tuple),
    ),
    st.builds(Bye, st.lists(u32, max_size=4).map(tuple), st.none() | st.binary(max_size=30)),
    st.builds(UnknownRtcp, st.integers(204, 207), st.integers(0, 31), words),
)  # fmt: skip


@given(st.lists(rtcp_packets, min_size=1, max_size=4))
def test_compound_round_trip(packets: list[object]) -> None:
    data = serialize_rtcp(packets)  # type: ignore[arg-type]
    assert parse_rtcp(data) == packets


@given(st.binary(max_size=120))
def test_fuzz_parse_or_raise_rtcp_error(data: bytes) -> None:
    # The h11-style invariant: parse, or raise RtcpError, nothing else.
    with contextlib.suppress(RtcpError):
        parse_rtcp(data)
