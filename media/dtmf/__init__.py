"""DTMF: key presses from RTP telephone-events (RFC 4733), tones in the audio, or SIP INFO.

Every source yields the same :class:`DtmfDigit` event, once per key press:

* :class:`TelephoneEventReceiver` / :class:`TelephoneEventSender` -- RFC 4733 payloads;
* :class:`InbandDetector` -- Goertzel-style detection in decoded int16 audio;
* :func:`parse_info` -- ``application/dtmf-relay`` and ``application/dtmf`` INFO bodies.

All are sans-IO: they take bytes or samples and the current time, and return events.
"""

from __future__ import annotations

from .errors import DtmfError, DtmfUsageError
from .events import DIGITS, DtmfDigit, DtmfSource
from .inband import InbandDetector
from .info import parse_info
from .rfc4733 import (
    TelephoneEvent,
    TelephoneEventPacket,
    TelephoneEventReceiver,
    TelephoneEventSender,
    event_code,
    parse_payload,
)

__all__ = [
    "DIGITS",
    "DtmfDigit",
    "DtmfError",
    "DtmfSource",
    "DtmfUsageError",
    "InbandDetector",
    "TelephoneEvent",
    "TelephoneEventPacket",
    "TelephoneEventReceiver",
    "TelephoneEventSender",
    "event_code",
    "parse_info",
    "parse_payload",
]
