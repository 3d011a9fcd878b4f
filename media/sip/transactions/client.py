"""Client transactions (RFC 3261 §17.1): states, transition tables, ACK and CANCEL.

The INVITE client machine is figure 5 of RFC 3261; the non-INVITE one is
figure 6.  A 2xx ends the INVITE client transaction at once (§17.1.1.2): the
TU acknowledges every 2xx itself (§13.2.2.4), retransmissions and forks
included, which reach it as ``StrayResponse``.
"""

from __future__ import annotations

from enum import Enum

from ..headers import CSeq, Headers
from ..message import Request, Response
from .fsm import Action, Stimulus, Table, Transaction, Transition
from .target import Target


class ClientState(Enum):
    """States of figures 5 and 6 (§17.1.1, §17.1.2)."""

    #: INVITE sent, no response yet; Timer A retransmits (UDP), Timer B gives up.
    CALLING = "calling"
    #: Non-INVITE request sent, no response yet; Timer E retransmits, Timer F gives up.
    TRYING = "trying"
    #: A provisional response arrived; a non-INVITE request is still retransmitted at T2.
    PROCEEDING = "proceeding"
    #: A final response arrived; later copies are absorbed (Timer D or K).
    COMPLETED = "completed"
    #: Done; the transaction has left the layer's tables.
    TERMINATED = "terminated"


_C = ClientState
_S = Stimulus
_A = Action

# RFC 3261 figure 5: INVITE client transaction.
INVITE_CLIENT: Table[ClientState] = {
    _C.CALLING: {
        _S.TIMER_A: Transition(_C.CALLING, _A.RETRANSMIT),
        _S.TIMER_B: Transition(_C.TERMINATED, _A.TIME_OUT),
        _S.PROVISIONAL: Transition(_C.PROCEEDING, _A.PASS_UP),
        _S.SUCCESS: Transition(_C.TERMINATED, _A.PASS_UP),
        _S.FAILURE: Transition(_C.COMPLETED, _A.ACK_AND_PASS_UP),
        _S.TRANSPORT_ERROR: Transition(_C.TERMINATED, _A.TRANSPORT_FAILED),
    },
    _C.PROCEEDING: {
        _S.PROVISIONAL: Transition(_C.PROCEEDING, _A.PASS_UP),
        _S.SUCCESS: Transition(_C.TERMINATED, _A.PASS_UP),
        _S.FAILURE: Transition(_C.COMPLETED, _A.ACK_AND_PASS_UP),
        # §9.1: no final response 64*T1 after the CANCEL: consider the INVITE cancelled.
        _S.CANCEL_EXPIRED: Transition(_C.TERMINATED, _A.TIME_OUT),
    },
    _C.COMPLETED: {
        _S.FAILURE: Transition(_C.COMPLETED, _A.RE_ACK),
        _S.TIMER_D: Transition(_C.TERMINATED, _A.NONE),
        _S.TRANSPORT_ERROR: Transition(_C.TERMINATED, _A.TRANSPORT_FAILED),
    },
    _C.TERMINATED: {},
}

# RFC 3261 figure 6: non-INVITE client transaction.
_NON_INVITE_WAITING: dict[Stimulus, Transition[ClientState]] = {
    _S.TIMER_F: Transition(_C.TERMINATED, _A.TIME_OUT),
    _S.TRANSPORT_ERROR: Transition(_C.TERMINATED, _A.TRANSPORT_FAILED),
    _S.PROVISIONAL: Transition(_C.PROCEEDING, _A.PASS_UP),
    _S.SUCCESS: Transition(_C.COMPLETED, _A.PASS_UP),
    _S.FAILURE: Transition(_C.COMPLETED, _A.PASS_UP),
}
NON_INVITE_CLIENT: Table[ClientState] = {
    _C.TRYING: {**_NON_INVITE_WAITING, _S.TIMER_E: Transition(_C.TRYING, _A.RETRANSMIT)},
    _C.PROCEEDING: {**_NON_INVITE_WAITING, _S.TIMER_E: Transition(_C.PROCEEDING, _A.RETRANSMIT)},
    _C.COMPLETED: {_S.TIMER_K: Transition(_C.TERMINATED, _A.NONE)},
    _C.TERMINATED: {},
}

# Timers running in each state (§17.1.1.2, §17.1.2.2).  Timer B does not run in
# Proceeding: once a provisional arrived the TU decides how long to wait (it may CANCEL;
# sending the CANCEL starts CANCEL_EXPIRED, outside this table, see ``TransactionLayer``).
INVITE_CLIENT_TIMERS: dict[ClientState, frozenset[Stimulus]] = {
    _C.CALLING: frozenset({_S.TIMER_A, _S.TIMER_B}),
    _C.COMPLETED: frozenset({_S.TIMER_D}),
}
NON_INVITE_CLIENT_TIMERS: dict[ClientState, frozenset[Stimulus]] = {
    _C.TRYING: frozenset({_S.TIMER_E, _S.TIMER_F}),
    _C.PROCEEDING: frozenset({_S.TIMER_E, _S.TIMER_F}),
    _C.COMPLETED: frozenset({_S.TIMER_K}),
}


class ClientTransaction(Transaction):
    """One request we sent and its responses (§17.1); ``target`` is where it went.

    ``key`` is (top Via branch, method) — what responses are matched on (§17.1.3).
    In Completed, :meth:`compact` keeps the request as bytes; the ACK of an
    INVITE's 3xx-6xx stays an object (it is re-sent as it is, and rare).
    """

    __slots__ = ("ack", "cancel_pending", "state")

    def __init__(self, request: Request, target: Target, key: tuple[object, ...]) -> None:
        super().__init__(request, target, key)
        self.state = ClientState.CALLING if self.is_invite else ClientState.TRYING
        #: The ACK this transaction sent for a 3xx-6xx, re-sent for each copy of it.
        self.ack: Request | None = None
        #: A CANCEL asked for before any provisional response (§9.1): sent on the first 1xx.
        self.cancel_pending = False

    @property
    def terminated(self) -> bool:
        return self.state is ClientState.TERMINATED

    @property
    def absorbing(self) -> bool:
        return self.state is ClientState.COMPLETED

    @property
    def table(self) -> Table[ClientState]:
        return INVITE_CLIENT if self.is_invite else NON_INVITE_CLIENT

    @property
    def timer_table(self) -> dict[ClientState, frozenset[Stimulus]]:
        return INVITE_CLIENT_TIMERS if self.is_invite else NON_INVITE_CLIENT_TIMERS

    def __repr__(self) -> str:
        return f"<ClientTransaction {self.method} {self.key[0]} {self.state.value}>"


def build_ack(invite: Request, response: Response) -> Request:
    """The ACK for a 3xx-6xx answer to ``invite`` (§17.1.1.3).

    Same Request-URI, Call-ID, From and CSeq number as the INVITE, To from
    the response (with its tag), only the INVITE's top Via, and its Route set.
    """
    headers = _copy_for_hop_by_hop(invite)
    headers.add("To", response.to)
    headers.add("From", invite.from_)
    headers.add("Call-ID", invite.call_id)
    headers.add("CSeq", CSeq(invite.cseq.number, "ACK"))
    return Request("ACK", invite.uri, headers)


def build_cancel(request: Request) -> Request:
    """The CANCEL of ``request`` (§9.1).

    Same Request-URI, Call-ID, To, From and CSeq number (method CANCEL), the
    request's top Via only — so it matches the same server transaction —
    and its Route set.
    """
    headers = _copy_for_hop_by_hop(request)
    headers.add("To", request.to)
    headers.add("From", request.from_)
    headers.add("Call-ID", request.call_id)
    headers.add("CSeq", CSeq(request.cseq.number, "CANCEL"))
    return Request("CANCEL", request.uri, headers)


def _copy_for_hop_by_hop(request: Request) -> Headers:
    """Top Via, Route set and Max-Forwards of ``request``, for its ACK or CANCEL."""
    headers = Headers([("Via", request.via)])
    for route in request.routes:
        headers.add("Route", route)
    max_forwards = request.max_forwards
    headers.add("Max-Forwards", 70 if max_forwards is None else max_forwards)
    return headers
