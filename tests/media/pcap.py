"""A tiny pcap reader for tests: the UDP payloads of an Ethernet/IPv4 capture.

pcap (libpcap "tcpdump" format): a 24-byte global header (magic 0xa1b2c3d4 in the
writer's byte order, link type in the last field), then per packet a 16-byte record
header (seconds, microseconds, captured length, original length) and the frame.
Only what the sip-tester captures need: Ethernet II, IPv4, UDP, no fragments.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

SIPP_PCAPS = Path("/usr/share/sip-tester")  # Debian package sip-tester (SIPp 3.6)

_LINKTYPE_ETHERNET = 1
_ETHERTYPE_IPV4 = 0x0800
_IPPROTO_UDP = 17


@dataclass(frozen=True, slots=True)
class UdpDatagram:
    """One captured UDP datagram and when it was captured (seconds since the epoch)."""

    time: float
    source_port: int
    destination_port: int
    payload: bytes


def read_udp(path: Path) -> list[UdpDatagram]:
    """The UDP datagrams of a pcap file, in capture order."""
    data = path.read_bytes()
    magic = data[:4]
    endian = {b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">"}[magic]
    (linktype,) = struct.unpack_from(endian + "I", data, 20)
    assert linktype == _LINKTYPE_ETHERNET, f"link type {linktype}"
    datagrams = []
    offset = 24
    while offset < len(data):
        seconds, micros, captured, _ = struct.unpack_from(endian + "IIII", data, offset)
        frame = data[offset + 16 : offset + 16 + captured]
        offset += 16 + captured
        datagram = _udp(frame, seconds + micros / 1e6)
        if datagram is not None:
            datagrams.append(datagram)
    return datagrams


def _udp(frame: bytes, time: float) -> UdpDatagram | None:
    (ethertype,) = struct.unpack_from("!H", frame, 12)
    if ethertype != _ETHERTYPE_IPV4 or frame[14 + 9] != _IPPROTO_UDP:
        return None
    ip_header = (frame[14] & 0x0F) * 4
    udp = 14 + ip_header
    source, destination, length = struct.unpack_from("!HHH", frame, udp)
    return UdpDatagram(time, source, destination, frame[udp + 8 : udp + length])
