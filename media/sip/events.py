"""Events of the SIP layers, as frozen slotted dataclasses named as nouns.

The transaction layer (RFC 3261 §17) reports what the transaction user (the
dialog / user-agent core) must know; the dialog layer adds its own events
below its heading.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .message import Request, Response
    from .transactions.client import ClientTransaction
    from .transactions.server import ServerTransaction
    from .transactions.target import Target


# -- Transaction layer (RFC 3261 §17) ------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """A new request created ``transaction``; the TU answers with ``send_response``.

    INVITEs have already been answered with 100 Trying (§17.2.1).
    """

    transaction: ServerTransaction
    request: Request


@dataclass(frozen=True, slots=True)
class AckReceived:
    """An ACK for a 2xx (its own transaction, §17): the dialog layer stops retransmitting.

    ``transaction`` is the INVITE server transaction when the ACK carried its
    branch (RFC 6026 §8.7: possible while it is Accepted), else None.
    """

    request: Request
    source: Target
    transaction: ServerTransaction | None = None


@dataclass(frozen=True, slots=True)
class CancelReceived:
    """A CANCEL matched ``transaction``, an INVITE still without final response (§9.2).

    The layer has already answered the CANCEL with 200; the TU should now
    answer the INVITE with 487 Request Terminated.
    """

    transaction: ServerTransaction
    request: Request


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    """A response to the request of ``transaction`` (retransmissions are absorbed)."""

    transaction: ClientTransaction
    response: Response


@dataclass(frozen=True, slots=True)
class StrayResponse:
    """A response matching no client transaction (§17.1.3).

    Typically a retransmitted or forked 2xx to an INVITE whose transaction
    ended at the first 2xx: the dialog layer ACKs it again (§13.2.2.4).
    """

    response: Response


@dataclass(frozen=True, slots=True)
class TransactionTimedOut:
    """``timer`` (``"B"``, ``"F"`` or ``"H"``) fired: no response, or no ACK, in 64*T1.

    For a client transaction the TU acts as on a 408 (§8.1.3.1); for an INVITE
    server transaction the ACK never came (§17.2.1) and the TU should end the dialog.
    """

    transaction: ClientTransaction | ServerTransaction
    timer: str


@dataclass(frozen=True, slots=True)
class TransportFailed:
    """The transport could not send a message of ``transaction`` (§17.1.4, §17.2.4).

    A client TU acts as on a 503 Service Unavailable (§8.1.3.1).
    """

    transaction: ClientTransaction | ServerTransaction


@dataclass(frozen=True, slots=True)
class TransactionTerminated:
    """``transaction`` has ended and left the layer; the TU can drop what it keyed on it."""

    transaction: ClientTransaction | ServerTransaction


Event = (
    RequestReceived
    | AckReceived
    | CancelReceived
    | ResponseReceived
    | StrayResponse
    | TransactionTimedOut
    | TransportFailed
    | TransactionTerminated
)
