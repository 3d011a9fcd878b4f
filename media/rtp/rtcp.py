"""RTCP packets (RFC 3550 §6.4-6.6): SR, RR, SDES, BYE, compound packets, NTP time.

Packet types this module does not model (APP, RFC 4585 feedback, RFC 3611 XR) parse
into `UnknownRtcp` and serialize back unchanged, so a compound packet from a peer
never fails because of one of them.  Padding (the P bit, §6.4.1) is accepted on the
last packet of a compound and stripped; this side never writes any.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeAlias, TypeVar

RTCP_VERSION = 2
SR, RR, SDES, BYE, APP = 200, 201, 202, 203, 204
MAX_COUNT = 31  # the 5-bit count field of the common header

# Seconds from the NTP epoch (1900) to the Unix epoch (1970).
NTP_UNIX_OFFSET = 2_208_988_800

SDES_END, SDES_CNAME, SDES_NAME, SDES_EMAIL, SDES_PHONE = 0, 1, 2, 3, 4
SDES_LOC, SDES_TOOL, SDES_NOTE, SDES_PRIV = 5, 6, 7, 8

_COMMON = struct.Struct("!BBH")  # V/P/count, packet type, length in words minus one
_SSRC = struct.Struct("!I")
_SENDER_INFO = struct.Struct("!IQIII")  # SSRC, NTP, RTP timestamp, packets, octets
_BLOCK = struct.Struct("!IIIIII")  # SSRC, fraction|lost, highest seq, jitter, LSR, DLSR
_ITEM = struct.Struct("!BB")

_T = TypeVar("_T")


class RtcpError(ValueError):
    """A datagram is not valid RTCP; the message names the fault."""


# --- NTP timestamps (RFC 3550 §4) -----------------------------------------------------


def ntp_from_unix(seconds: float) -> int:
    """64-bit NTP timestamp (32.32 fixed point since 1900) for Unix time ``seconds``."""
    return int((seconds + NTP_UNIX_OFFSET) * (1 << 32)) & 0xFFFFFFFFFFFFFFFF


def unix_from_ntp(ntp: int) -> float:
    """Unix time in seconds of a 64-bit NTP timestamp."""
    return ntp / (1 << 32) - NTP_UNIX_OFFSET


def ntp_middle(ntp: int) -> int:
    """The middle 32 bits of an NTP timestamp (16.16 seconds), as used by LSR (§6.4.1)."""
    return (ntp >> 16) & 0xFFFFFFFF


def ntp_short(seconds: float) -> int:
    """A duration in units of 1/65536 s, as used by DLSR (§6.4.1), clamped to 32 bits."""
    return min(max(int(seconds * 65536), 0), 0xFFFFFFFF)


def round_trip_time(block: ReportBlock, now: float) -> float | None:
    """Round-trip time in seconds from a report block about our stream (§6.4.1 figure 2).

    ``now`` is the Unix time the report arrived.  None when the peer has not yet
    received a sender report from us (LSR zero).  A negative result, which only
    clock steps produce, is reported as 0.
    """
    if not block.lsr:
        return None
    arrival = ntp_middle(ntp_from_unix(now))
    units = (arrival - block.lsr - block.dlsr) & 0xFFFFFFFF
    return 0.0 if units >= 1 << 31 else units / 65536


# --- packets --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportBlock:
    """A reception report block (RFC 3550 §6.4.1) about one source.

    ``fraction_lost`` is 8-bit fixed point (lost/expected * 256) over the last
    interval; ``cumulative_lost`` a signed 24-bit count (negative with duplicates);
    ``highest_sequence`` the extended highest sequence number; ``jitter`` in RTP
    timestamp units; ``lsr``/``dlsr`` the middle NTP bits of the last SR received and
    the delay since, in 1/65536 s.
    """

    ssrc: int
    fraction_lost: int = 0
    cumulative_lost: int = 0
    highest_sequence: int = 0
    jitter: int = 0
    lsr: int = 0
    dlsr: int = 0

    @classmethod
    def parse(cls, data: bytes, offset: int = 0) -> ReportBlock:
        """The 24-octet report block at ``offset``."""
        ssrc, lost, highest, jitter, lsr, dlsr = _BLOCK.unpack_from(data, offset)
        cumulative = lost & 0xFFFFFF
        if cumulative & 0x800000:
            cumulative -= 1 << 24
        return cls(ssrc, lost >> 24, cumulative, highest, jitter, lsr, dlsr)

    def __bytes__(self) -> bytes:
        if not -(1 << 23) <= self.cumulative_lost < 1 << 23:
            raise ValueError(f"cumulative lost {self.cumulative_lost} does not fit in 24 bits")
        lost = (self.fraction_lost << 24) | (self.cumulative_lost & 0xFFFFFF)
        return _BLOCK.pack(self.ssrc, lost, self.highest_sequence, self.jitter, self.lsr, self.dlsr)


@dataclass(frozen=True, slots=True)
class SenderReport:
    """SR (RFC 3550 §6.4.1): sender info plus reports on the sources we receive."""

    ssrc: int
    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: tuple[ReportBlock, ...] = ()
    extension: bytes = b""  # profile-specific extension, kept raw

    @classmethod
    def parse(cls, data: bytes) -> SenderReport:
        """Parse one SR packet (common header included)."""
        return _parse_single(data, cls)

    @classmethod
    def _from_body(cls, count: int, body: bytes) -> SenderReport:
        if len(body) < _SENDER_INFO.size:
            raise RtcpError(f"SR too short: {len(body) + 4} bytes, sender info needs 28")
        ssrc, ntp, rtp_timestamp, packets, octets = _SENDER_INFO.unpack_from(body)
        reports, rest = _parse_blocks("SR", count, body, _SENDER_INFO.size)
        return cls(ssrc, ntp, rtp_timestamp, packets, octets, reports, rest)

    def __bytes__(self) -> bytes:
        body = _SENDER_INFO.pack(
            self.ssrc,
            self.ntp_timestamp,
            self.rtp_timestamp,
            self.packet_count,
            self.octet_count,
        )
        return _packet(SR, len(self.reports), _join_blocks(body, self.reports, self.extension))


@dataclass(frozen=True, slots=True)
class ReceiverReport:
    """RR (RFC 3550 §6.4.2): reports from a participant that is not sending."""

    ssrc: int
    reports: tuple[ReportBlock, ...] = ()
    extension: bytes = b""

    @classmethod
    def parse(cls, data: bytes) -> ReceiverReport:
        """Parse one RR packet (common header included)."""
        return _parse_single(data, cls)

    @classmethod
    def _from_body(cls, count: int, body: bytes) -> ReceiverReport:
        if len(body) < 4:
            raise RtcpError(f"RR too short: {len(body) + 4} bytes, the SSRC needs 8")
        (ssrc,) = _SSRC.unpack_from(body)
        reports, rest = _parse_blocks("RR", count, body, 4)
        return cls(ssrc, reports, rest)

    def __bytes__(self) -> bytes:
        body = _SSRC.pack(self.ssrc)
        return _packet(RR, len(self.reports), _join_blocks(body, self.reports, self.extension))


@dataclass(frozen=True, slots=True)
class SdesItem:
    """One SDES item (RFC 3550 §6.5): ``kind`` 1-8 (CNAME, NAME, ... PRIV), raw text."""

    kind: int
    value: bytes


@dataclass(frozen=True, slots=True)
class SdesChunk:
    """The SDES items describing one source."""

    ssrc: int
    items: tuple[SdesItem, ...] = ()

    @property
    def cname(self) -> str | None:
        """The CNAME item as text, or None when the chunk has none."""
        for item in self.items:
            if item.kind == SDES_CNAME:
                return item.value.decode("utf-8", "replace")
        return None

    def _bytes(self) -> bytes:
        parts = [_SSRC.pack(self.ssrc)]
        for item in self.items:
            if not 0 < item.kind <= 0xFF or len(item.value) > 0xFF:
                raise ValueError(f"SDES item kind {item.kind} / {len(item.value)} octets")
            parts.append(_ITEM.pack(item.kind, len(item.value)) + item.value)
        size = sum(map(len, parts))
        parts.append(bytes(4 - size % 4))  # the null item, then zeros to a word boundary
        return b"".join(parts)


@dataclass(frozen=True, slots=True)
class SourceDescription:
    """SDES (RFC 3550 §6.5): one chunk of items per source."""

    chunks: tuple[SdesChunk, ...] = ()

    @classmethod
    def with_cname(cls, ssrc: int, cname: str) -> SourceDescription:
        """The SDES every compound packet carries: a single CNAME (§6.1)."""
        return cls((SdesChunk(ssrc, (SdesItem(SDES_CNAME, cname.encode()),)),))

    @classmethod
    def parse(cls, data: bytes) -> SourceDescription:
        """Parse one SDES packet (common header included)."""
        return _parse_single(data, cls)

    @classmethod
    def _from_body(cls, count: int, body: bytes) -> SourceDescription:
        chunks = []
        offset = 0
        for index in range(count):
            if offset + 4 > len(body):
                raise RtcpError(f"SDES count {count} but only {index} chunks present")
            (ssrc,) = _SSRC.unpack_from(body, offset)
            items, offset = _parse_items(body, offset + 4, ssrc)
            chunks.append(SdesChunk(ssrc, items))
        return cls(tuple(chunks))

    def __bytes__(self) -> bytes:
        body = b"".join(chunk._bytes() for chunk in self.chunks)
        return _packet(SDES, len(self.chunks), body)


@dataclass(frozen=True, slots=True)
class Bye:
    """BYE (RFC 3550 §6.6): the sources leave, with an optional reason (raw text)."""

    sources: tuple[int, ...]
    reason: bytes | None = None

    @classmethod
    def parse(cls, data: bytes) -> Bye:
        """Parse one BYE packet (common header included)."""
        return _parse_single(data, cls)

    @classmethod
    def _from_body(cls, count: int, body: bytes) -> Bye:
        end = 4 * count
        if end > len(body):
            raise RtcpError(
                f"BYE too short: {count} sources need {end + 4} bytes, have {len(body) + 4}"
            )
        sources = struct.unpack_from(f"!{count}I", body)
        if end == len(body):
            return cls(sources)
        length = body[end]
        if end + 1 + length > len(body):
            raise RtcpError(f"BYE reason of {length} octets overruns packet")
        return cls(sources, body[end + 1 : end + 1 + length])

    def __bytes__(self) -> bytes:
        body = struct.pack(f"!{len(self.sources)}I", *self.sources)
        if self.reason is not None:
            if len(self.reason) > 0xFF:
                raise ValueError(f"BYE reason of {len(self.reason)} octets, at most 255 fit")
            reason = bytes((len(self.reason),)) + self.reason
            body += reason + bytes(-len(reason) % 4)
        return _packet(BYE, len(self.sources), body)


@dataclass(frozen=True, slots=True)
class UnknownRtcp:
    """An RTCP packet of a type not modelled here (APP, feedback, XR), kept raw."""

    packet_type: int
    count: int
    body: bytes

    @classmethod
    def parse(cls, data: bytes) -> UnknownRtcp:
        """Parse one RTCP packet of any type into its raw parts."""
        packets = _split(data)
        if len(packets) != 1:
            raise RtcpError(f"expected one RTCP packet, found {len(packets)}")
        return cls(*packets[0])

    def __bytes__(self) -> bytes:
        return _packet(self.packet_type, self.count, self.body)


RtcpPacket: TypeAlias = SenderReport | ReceiverReport | SourceDescription | Bye | UnknownRtcp

_PARSERS: dict[int, Callable[[int, bytes], RtcpPacket]] = {
    SR: SenderReport._from_body,
    RR: ReceiverReport._from_body,
    SDES: SourceDescription._from_body,
    BYE: Bye._from_body,
}


@dataclass(frozen=True, slots=True)
class RtcpCompound:
    """A compound RTCP packet (§6.1): the packets of one datagram, in order."""

    packets: tuple[RtcpPacket, ...]

    @classmethod
    def parse(cls, data: bytes) -> RtcpCompound:
        """Parse a datagram; see `parse_rtcp`."""
        return cls(tuple(parse_rtcp(data)))

    def __bytes__(self) -> bytes:
        return serialize_rtcp(self.packets)


def parse_rtcp(data: bytes) -> list[RtcpPacket]:
    """Parse a (compound) RTCP datagram into its packets, raising `RtcpError`.

    The §6.1 rule that a compound starts with SR or RR is not enforced: RFC 5506
    reduced-size RTCP and some peers send SDES or BYE alone.
    """
    packets: list[RtcpPacket] = []
    for packet_type, count, body in _split(data):
        parser = _PARSERS.get(packet_type)
        packets.append(parser(count, body) if parser else UnknownRtcp(packet_type, count, body))
    return packets


def serialize_rtcp(packets: Iterable[RtcpPacket]) -> bytes:
    """The compound datagram carrying ``packets`` in order."""
    return b"".join(bytes(packet) for packet in packets)


# --- helpers --------------------------------------------------------------------------


def _split(data: bytes) -> list[tuple[int, int, bytes]]:
    """(packet type, count, body without header and padding) for each packet."""
    parts: list[tuple[int, int, bytes]] = []
    offset = 0
    size = len(data)
    while offset < size or not parts:
        if size - offset < 4:
            raise RtcpError(
                f"RTCP packet too short: {size - offset} bytes at offset {offset}, "
                "the header needs 4"
            )
        first, packet_type, words = _COMMON.unpack_from(data, offset)
        if first >> 6 != RTCP_VERSION:
            raise RtcpError(f"RTCP version {first >> 6} at offset {offset}, expected 2")
        end = offset + 4 + 4 * words
        if end > size:
            raise RtcpError(
                f"RTCP length overruns datagram: packet at offset {offset} claims "
                f"{end - offset} bytes, {size - offset} remain"
            )
        body_end = end
        if first & 0x20:
            body_end -= _padding(data, offset, end)
        parts.append((packet_type, first & 0x1F, data[offset + 4 : body_end]))
        offset = end
    return parts


def _padding(data: bytes, offset: int, end: int) -> int:
    """The padding length of the packet at ``offset`` (its P bit is set)."""
    if end != len(data):
        raise RtcpError(f"padding bit set on the RTCP packet at offset {offset}, not the last")
    count = data[end - 1]
    if count == 0 or count > end - offset - 4:
        raise RtcpError(f"bad RTCP padding: count {count} with {end - offset - 4} body bytes")
    return count


def _parse_blocks(
    kind: str, count: int, body: bytes, offset: int
) -> tuple[tuple[ReportBlock, ...], bytes]:
    """``count`` report blocks from ``offset``, and the extension bytes after them."""
    end = offset + _BLOCK.size * count
    if end > len(body):
        raise RtcpError(
            f"{kind} too short: {count} report blocks need {end + 4} bytes, have {len(body) + 4}"
        )
    blocks = tuple(ReportBlock.parse(body, at) for at in range(offset, end, _BLOCK.size))
    return blocks, body[end:]


def _parse_items(body: bytes, offset: int, ssrc: int) -> tuple[tuple[SdesItem, ...], int]:
    """The SDES items from ``offset`` up to the null item, and the next chunk's offset."""
    items = []
    while offset < len(body) and body[offset] != SDES_END:
        if offset + 2 > len(body):
            raise RtcpError(f"SDES item header truncated in the chunk of SSRC {ssrc:#010x}")
        kind, length = _ITEM.unpack_from(body, offset)
        end = offset + 2 + length
        if end > len(body):
            raise RtcpError(f"SDES item of {length} octets overruns the chunk of SSRC {ssrc:#010x}")
        items.append(SdesItem(kind, body[offset + 2 : end]))
        offset = end
    if offset >= len(body):
        raise RtcpError(f"SDES chunk of SSRC {ssrc:#010x} has no terminating null item")
    return tuple(items), (offset + 4) & ~3  # skip the null octet(s) to a word boundary


def _join_blocks(head: bytes, reports: tuple[ReportBlock, ...], extension: bytes) -> bytes:
    if len(reports) > MAX_COUNT:
        raise ValueError(f"{len(reports)} report blocks, at most 31 fit in one packet")
    return b"".join((head, *map(bytes, reports), extension))


def _packet(packet_type: int, count: int, body: bytes) -> bytes:
    """Common header (§6.4.1) plus ``body``, which must fill whole 32-bit words."""
    if count > MAX_COUNT:
        raise ValueError(f"count {count} does not fit in the 5-bit field")
    if len(body) % 4:
        raise ValueError(f"RTCP body of {len(body)} octets is not a whole number of words")
    return _COMMON.pack(0x80 | count, packet_type, len(body) // 4) + body


def _parse_single(data: bytes, cls: type[_T]) -> _T:
    packets = parse_rtcp(data)
    if len(packets) != 1 or not isinstance(packets[0], cls):
        found = ", ".join(type(packet).__name__ for packet in packets)
        raise RtcpError(f"expected one {cls.__name__}, found {found}")
    return packets[0]
