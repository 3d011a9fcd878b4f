"""RFC 4566 §9 grammar pieces shared by the model and the parser (no I/O, no model).

Payload types, the static payload table of RFC 3551 and the value syntax of
the ``rtpmap``, ``fmtp`` and ``ptime`` attributes (RFC 4566 §6).
"""

from __future__ import annotations

import re
from typing import NamedTuple

DIGITS = re.compile(r"[0-9]+")
# token-char, RFC 4566 §9 (att-field = token, bwtype = token)
TOKEN = re.compile(r"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+")
_MILLISECONDS = re.compile(r"([0-9]{1,9})(?:\.[0-9]{1,9})?")


class RtpMap(NamedTuple):
    """An ``a=rtpmap`` mapping (RFC 4566 §6): encoding name, clock rate, channels.

    ``channels`` is 1 for audio when the line leaves it out, None for other media.
    """

    encoding: str
    clock_rate: int
    channels: int | None = None


#: Static payload types, RFC 3551 §6 tables 4 and 5.
STATIC_PAYLOAD_TYPES: dict[int, RtpMap] = {
    0: RtpMap("PCMU", 8000, 1),
    3: RtpMap("GSM", 8000, 1),
    4: RtpMap("G723", 8000, 1),
    5: RtpMap("DVI4", 8000, 1),
    6: RtpMap("DVI4", 16000, 1),
    7: RtpMap("LPC", 8000, 1),
    8: RtpMap("PCMA", 8000, 1),
    9: RtpMap("G722", 8000, 1),
    10: RtpMap("L16", 44100, 2),
    11: RtpMap("L16", 44100, 1),
    12: RtpMap("QCELP", 8000, 1),
    13: RtpMap("CN", 8000, 1),
    14: RtpMap("MPA", 90000),
    15: RtpMap("G728", 8000, 1),
    16: RtpMap("DVI4", 11025, 1),
    17: RtpMap("DVI4", 22050, 1),
    18: RtpMap("G729", 8000, 1),
    25: RtpMap("CelB", 90000),
    26: RtpMap("JPEG", 90000),
    28: RtpMap("nv", 90000),
    31: RtpMap("H261", 90000),
    32: RtpMap("MPV", 90000),
    33: RtpMap("MP2T", 90000),
    34: RtpMap("H263", 90000),
}


def is_rtp(proto: str) -> bool:
    """Whether a transport protocol carries RTP (RTP/AVP, RTP/SAVPF, UDP/TLS/RTP/SAVPF...)."""
    return "RTP/" in proto


def is_payload_type(text: str) -> bool:
    """Whether ``text`` is an RTP payload type number, 0-127 (RFC 3550 §5.1)."""
    return len(text) <= 3 and DIGITS.fullmatch(text) is not None and int(text) <= 127


def parse_rtpmap(value: str, *, audio: bool) -> tuple[int, RtpMap] | None:
    """``<payload type> <encoding name>/<clock rate>[/<encoding parameters>]``, or None."""
    parts = value.split()
    if len(parts) != 2 or not is_payload_type(parts[0]):
        return None
    encoding, *numbers = parts[1].split("/")
    if not encoding or not 1 <= len(numbers) <= 2:
        return None
    if any(DIGITS.fullmatch(n) is None or len(n) > 9 or int(n) == 0 for n in numbers):
        return None
    channels = int(numbers[1]) if len(numbers) == 2 else (1 if audio else None)
    return int(parts[0]), RtpMap(encoding, int(numbers[0]), channels)


def parse_fmtp(value: str) -> tuple[int, str] | None:
    """``<format> <format specific parameters>`` with an RTP payload type as format."""
    parts = value.strip().split(None, 1)
    if not parts or not is_payload_type(parts[0]):
        return None
    return int(parts[0]), parts[1] if len(parts) == 2 else ""


def parse_ms(value: str | None) -> int | None:
    """A ``ptime``/``maxptime`` value in milliseconds (fractions dropped), or None."""
    match = None if value is None else _MILLISECONDS.fullmatch(value.strip())
    return None if match is None else int(match.group(1))
