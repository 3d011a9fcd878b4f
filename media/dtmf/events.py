"""Events of the DTMF layer: one event type, whatever carried the digit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["DIGITS", "DtmfDigit", "DtmfSource"]

#: The sixteen DTMF keys in RFC 4733 §3.2 event-code order (0-9, *, #, A-D).
DIGITS = "0123456789*#ABCD"

DtmfSource = Literal["rfc4733", "inband", "info"]


@dataclass(frozen=True, slots=True)
class DtmfDigit:
    """The caller pressed one key, reported once per press however it travelled.

    ``digit`` is one of :data:`DIGITS`.  ``source`` says how it came: RTP telephone-events
    (RFC 4733), tones in the audio (``inband``) or a SIP INFO body (``info``).
    ``duration_ms`` is how long the key was held, as the source reports it (RFC 4733
    duration field, measured tone length, INFO ``Duration``).  ``at`` is when the press
    began, on the clock of the ``now`` arguments the detector was fed (the first packet of
    the event, the first tone block, the INFO's arrival); ``at + duration_ms / 1000`` is
    roughly when it ended, which is what inter-digit timers want.
    """

    digit: str
    source: DtmfSource
    duration_ms: int
    at: float
