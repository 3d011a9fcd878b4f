"""Errors of the SIP layer (h11 style: the peer's fault vs our own misuse)."""

from __future__ import annotations


class SipError(Exception):
    """Base class of all SIP layer errors."""


class RemoteProtocolError(SipError):
    """The peer sent something that breaks RFC 3261.

    Carries the response to send when the offending message was a request:
    ``status`` and ``reason`` (a reason phrase that names the fault, so the
    peer's operator can see what is wrong).  Responses and unparseable garbage
    are simply dropped by the transport edge.
    """

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class MessageTooLarge(RemoteProtocolError):
    """A message over the size limit (RFC 3261 §18.1.1 allows a 513 answer)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"Message too large ({size} > {limit} bytes)", 513)


class LocalProtocolError(SipError):
    """Our own code misused the SIP API (a bug on this side, never the peer's)."""
