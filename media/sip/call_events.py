"""Events of the user-agent layer (calls and registrations), for the application.

The transaction layer's events live in :mod:`media.sip.events`; these are one
layer up: a dialog-level view the server (and later the IVR and ACD) acts on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .message import Request

if TYPE_CHECKING:
    from .session import CallSession
    from .transaction import ServerTransaction


@dataclass(frozen=True, slots=True)
class IncomingCall:
    """A new INVITE outside any dialog: answer, ring or reject it."""

    session: CallSession


@dataclass(frozen=True, slots=True)
class CallConfirmed:
    """The caller's ACK for our 2xx arrived; ``ack.body`` holds a late SDP answer."""

    session: CallSession
    ack: Request


@dataclass(frozen=True, slots=True)
class ReinviteReceived:
    """A re-INVITE (hold/unhold, §14.2): answer it with ``answer_reinvite``."""

    session: CallSession
    transaction: ServerTransaction
    request: Request


@dataclass(frozen=True, slots=True)
class ReinviteAnswered:
    """Our own re-INVITE got its final response (2xx: ``body`` is the answer)."""

    session: CallSession
    status: int
    body: bytes


@dataclass(frozen=True, slots=True)
class InfoReceived:
    """An in-dialog INFO (e.g. application/dtmf-relay); already answered 200."""

    session: CallSession
    request: Request


@dataclass(frozen=True, slots=True)
class CallEnded:
    """The call is over; ``reason`` is one of :class:`media.sip.session.EndReason`."""

    session: CallSession


@dataclass(frozen=True, slots=True)
class RegisterReceived:
    """A REGISTER for the registrar; answer it with ``UserAgent.respond``."""

    transaction: ServerTransaction
    request: Request


Event = (
    IncomingCall
    | CallConfirmed
    | ReinviteReceived
    | ReinviteAnswered
    | InfoReceived
    | CallEnded
    | RegisterReceived
)
