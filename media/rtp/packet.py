"""RTP data packets (RFC 3550 §5.1) and the RTP/RTCP demultiplexing test (RFC 5761 §4).

The parser runs once per received packet, so it reads the fixed header with one
precompiled ``struct.Struct`` and copies nothing but the payload slice.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

RTP_VERSION = 2
HEADER_SIZE = 12
MAX_CSRC = 15

# V/P/X/CC, M/PT, sequence number, timestamp, SSRC (RFC 3550 §5.1 figure).
_HEADER = struct.Struct("!BBHII")
# Header extension: defined-by-profile, length in 32-bit words (RFC 3550 §5.3.1).
_EXTENSION = struct.Struct("!HH")
_CSRC = tuple(struct.Struct(f"!{n}I") for n in range(MAX_CSRC + 1))


class RtpError(ValueError):
    """A datagram is not a valid RTP packet; the message names the fault."""


@dataclass(frozen=True, slots=True)
class RtpExtension:
    """An RTP header extension kept raw (RFC 3550 §5.3.1).

    ``profile`` is the 16-bit "defined by profile" field (0xBEDE for RFC 8285 one-byte
    elements); ``data`` is the extension body, a multiple of 4 octets long.
    """

    profile: int
    data: bytes = b""


@dataclass(frozen=True, slots=True)
class RtpPacket:
    """One RTP data packet (version 2).

    ``padding`` is the number of padding octets at the end of the packet, including
    the final count octet (0: the P bit is clear).  Padding is written as zeros.
    """

    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrc: tuple[int, ...] = ()
    extension: RtpExtension | None = None
    padding: int = 0

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        """Parse one RTP packet, raising `RtpError` naming the first fault found."""
        size = len(data)
        if size < HEADER_SIZE:
            raise RtpError(f"RTP packet too short: {size} bytes, the fixed header needs 12")
        first, second, seq, timestamp, ssrc = _HEADER.unpack_from(data)
        if first >> 6 != RTP_VERSION:
            raise RtpError(f"RTP version {first >> 6}, expected 2")
        offset = HEADER_SIZE
        csrc: tuple[int, ...] = ()
        count = first & 0x0F
        if count:
            offset += 4 * count
            if offset > size:
                raise RtpError(
                    f"CSRC list overruns packet: {count} CSRCs need {offset} bytes, "
                    f"packet has {size}"
                )
            csrc = _CSRC[count].unpack_from(data, HEADER_SIZE)
        extension = None
        if first & 0x10:
            extension, offset = _parse_extension(data, offset)
        end = size
        padding = 0
        if first & 0x20:
            padding = data[-1]
            if padding == 0 or padding > size - offset:
                raise RtpError(
                    f"bad padding: count {padding} with {size - offset} bytes after the header"
                )
            end -= padding
        return cls(
            second & 0x7F,
            seq,
            timestamp,
            ssrc,
            data[offset:end],
            second > 0x7F,
            csrc,
            extension,
            padding,
        )

    def __bytes__(self) -> bytes:
        """The packet on the wire; raises ValueError for fields that do not fit."""
        self._check()
        first = 0x80 | len(self.csrc)
        if self.padding:
            first |= 0x20
        if self.extension is not None:
            first |= 0x10
        second = self.payload_type | (0x80 if self.marker else 0)
        parts = [_HEADER.pack(first, second, self.sequence_number, self.timestamp, self.ssrc)]
        if self.csrc:
            parts.append(_CSRC[len(self.csrc)].pack(*self.csrc))
        if self.extension is not None:
            data = self.extension.data
            parts.append(_EXTENSION.pack(self.extension.profile, len(data) // 4))
            parts.append(data)
        parts.append(self.payload)
        if self.padding:
            parts.append(bytes(self.padding - 1) + bytes((self.padding,)))
        return b"".join(parts)

    def _check(self) -> None:
        # Local misuse, not the peer's fault: plain ValueError, not RtpError.
        if not 0 <= self.payload_type <= 0x7F:
            raise ValueError(f"payload type {self.payload_type} does not fit in 7 bits")
        if len(self.csrc) > MAX_CSRC:
            raise ValueError(f"{len(self.csrc)} CSRCs, at most 15 fit")
        if not 0 <= self.padding <= 0xFF:
            raise ValueError(f"padding {self.padding} does not fit in one octet")
        if self.extension is not None and len(self.extension.data) % 4:
            raise ValueError("header extension data must be a multiple of 4 octets")


def _parse_extension(data: bytes, offset: int) -> tuple[RtpExtension, int]:
    """The header extension starting at ``offset`` and the offset after it."""
    size = len(data)
    if offset + 4 > size:
        raise RtpError(
            f"header extension overruns packet: its header needs {offset + 4} bytes, "
            f"packet has {size}"
        )
    profile, words = _EXTENSION.unpack_from(data, offset)
    end = offset + 4 + 4 * words
    if end > size:
        raise RtpError(
            f"header extension overruns packet: {words} words need {end} bytes, packet has {size}"
        )
    return RtpExtension(profile, data[offset + 4 : end]), end


def is_rtcp(data: bytes) -> bool:
    """True if a datagram on a shared RTP/RTCP port is RTCP (RFC 5761 §4).

    RTCP packet types 192-223 occupy the second octet where RTP has the marker bit
    and payload type; RFC 5761 reserves RTP payload types 64-95 so that the ranges
    never overlap (RTCP SR/RR/SDES/BYE/APP/FB/XR are 200-207).
    """
    return len(data) >= 2 and 192 <= data[1] <= 223
