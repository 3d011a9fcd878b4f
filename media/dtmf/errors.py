"""Errors of the DTMF layer (h11 style: the peer's fault vs our own misuse)."""

from __future__ import annotations

__all__ = ["DtmfError", "DtmfUsageError"]


class DtmfError(Exception):
    """The peer sent a DTMF signal we cannot read: a malformed RFC 4733 payload or INFO body.

    ``status`` is the SIP response fitting a SIP INFO that carried it (400 for a bad body,
    415 for a content type that is not DTMF); RTP has no reply, so the RTP layer only
    counts and drops.  The message names the fault, fit for a reason phrase or a log line.
    """

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class DtmfUsageError(ValueError):
    """Our own code misused the DTMF API (unknown digit to send, bad volume...)."""
