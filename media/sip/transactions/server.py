"""Server transactions (RFC 3261 §17.2): states, transition tables, matching keys.

The INVITE server machine is figure 7 of RFC 3261 with the Accepted state of
RFC 6026 §7.1: after a 2xx the transaction stays 64*T1 to absorb
retransmitted INVITEs (instead of showing them to the TU as new calls) and
to let the TU send its own 2xx retransmissions through it.  The non-INVITE
machine is figure 8.
"""

from __future__ import annotations

from enum import Enum

from ..message import Request, Response
from .fsm import Action, Stimulus, Table, Transaction, Transition
from .target import Target


class ServerState(Enum):
    """States of figures 7 and 8 (§17.2.1, §17.2.2) and RFC 6026's Accepted."""

    #: Non-INVITE request received, the TU has not answered; retransmissions absorbed.
    TRYING = "trying"
    #: Provisional response sent (INVITE: 100 Trying at once); copies of the request re-send it.
    PROCEEDING = "proceeding"
    #: Final response sent (INVITE: 3xx-6xx); Timer G retransmits it until the ACK, H gives up.
    COMPLETED = "completed"
    #: INVITE: the ACK for the 3xx-6xx came; Timer I absorbs its copies.
    CONFIRMED = "confirmed"
    #: INVITE: a 2xx was sent; the TU retransmits it, Timer L absorbs INVITE copies (RFC 6026).
    ACCEPTED = "accepted"
    #: Done; the transaction has left the layer's tables.
    TERMINATED = "terminated"


_V = ServerState
_S = Stimulus
_A = Action

# RFC 3261 figure 7 + RFC 6026 figure 7: INVITE server transaction.
INVITE_SERVER: Table[ServerState] = {
    _V.PROCEEDING: {
        _S.REQUEST: Transition(_V.PROCEEDING, _A.RESEND),
        _S.PROVISIONAL: Transition(_V.PROCEEDING, _A.SEND),
        _S.SUCCESS: Transition(_V.ACCEPTED, _A.SEND),
        _S.FAILURE: Transition(_V.COMPLETED, _A.SEND),
        _S.TRANSPORT_ERROR: Transition(_V.TERMINATED, _A.TRANSPORT_FAILED),
    },
    _V.COMPLETED: {
        _S.REQUEST: Transition(_V.COMPLETED, _A.RESEND),
        _S.TIMER_G: Transition(_V.COMPLETED, _A.RETRANSMIT),
        _S.TIMER_H: Transition(_V.TERMINATED, _A.TIME_OUT),
        _S.ACK: Transition(_V.CONFIRMED, _A.NONE),
        _S.TRANSPORT_ERROR: Transition(_V.TERMINATED, _A.TRANSPORT_FAILED),
    },
    _V.CONFIRMED: {
        _S.TIMER_I: Transition(_V.TERMINATED, _A.NONE),
    },
    _V.ACCEPTED: {
        _S.SUCCESS: Transition(_V.ACCEPTED, _A.SEND),
        _S.ACK: Transition(_V.ACCEPTED, _A.PASS_ACK),
        _S.TIMER_L: Transition(_V.TERMINATED, _A.NONE),
    },
    _V.TERMINATED: {},
}

# RFC 3261 figure 8: non-INVITE server transaction.
_FINAL_SENT = Transition(_V.COMPLETED, _A.SEND)
NON_INVITE_SERVER: Table[ServerState] = {
    _V.TRYING: {
        _S.PROVISIONAL: Transition(_V.PROCEEDING, _A.SEND),
        _S.SUCCESS: _FINAL_SENT,
        _S.FAILURE: _FINAL_SENT,
    },
    _V.PROCEEDING: {
        _S.REQUEST: Transition(_V.PROCEEDING, _A.RESEND),
        _S.PROVISIONAL: Transition(_V.PROCEEDING, _A.SEND),
        _S.SUCCESS: _FINAL_SENT,
        _S.FAILURE: _FINAL_SENT,
        _S.TRANSPORT_ERROR: Transition(_V.TERMINATED, _A.TRANSPORT_FAILED),
    },
    _V.COMPLETED: {
        _S.REQUEST: Transition(_V.COMPLETED, _A.RESEND),
        _S.TIMER_J: Transition(_V.TERMINATED, _A.NONE),
        _S.TRANSPORT_ERROR: Transition(_V.TERMINATED, _A.TRANSPORT_FAILED),
    },
    _V.TERMINATED: {},
}

# Timers running in each state (§17.2.1, §17.2.2, RFC 6026 §7.1).
INVITE_SERVER_TIMERS: dict[ServerState, frozenset[Stimulus]] = {
    _V.COMPLETED: frozenset({_S.TIMER_G, _S.TIMER_H}),
    _V.CONFIRMED: frozenset({_S.TIMER_I}),
    _V.ACCEPTED: frozenset({_S.TIMER_L}),
}
NON_INVITE_SERVER_TIMERS: dict[ServerState, frozenset[Stimulus]] = {
    _V.COMPLETED: frozenset({_S.TIMER_J}),
}

#: ("3261", branch, sent-by host, sent-by port) or the RFC 2543 tuple; see :func:`base_key`.
BaseKey = tuple[object, ...]


class ServerTransaction(Transaction):
    """One request we received and our responses to it (§17.2).

    ``source`` is where the request came from; ``target`` where responses go
    (§18.2.2, computed once from the stamped top Via).
    """

    __slots__ = ("base", "last_response", "source", "state")

    def __init__(self, request: Request, source: Target, target: Target, base: BaseKey) -> None:
        super().__init__(request, target, (base, request.method))
        #: The method-less matching key (:func:`base_key`); CANCELs are matched on it.
        self.base = base
        self.source = source
        self.state = ServerState.PROCEEDING if self.is_invite else ServerState.TRYING
        #: The latest response sent; a retransmitted request gets it again.
        self.last_response: Response | None = None

    @property
    def to_tag(self) -> str | None:
        """The To tag of the latest response sent, if it had one."""
        return None if self.last_response is None else self.last_response.to.tag

    @property
    def has_final_response(self) -> bool:
        return self.last_response is not None and self.last_response.status >= 200

    def step(self, stimulus: Stimulus) -> Action | None:
        transition = self.table[self.state].get(stimulus)
        if transition is None:
            return None
        self.state = transition.next
        return transition.action

    @property
    def active_timers(self) -> frozenset[Stimulus]:
        return self.timer_table.get(self.state, frozenset())

    @property
    def terminated(self) -> bool:
        return self.state is ServerState.TERMINATED

    @property
    def table(self) -> Table[ServerState]:
        return INVITE_SERVER if self.is_invite else NON_INVITE_SERVER

    @property
    def timer_table(self) -> dict[ServerState, frozenset[Stimulus]]:
        return INVITE_SERVER_TIMERS if self.is_invite else NON_INVITE_SERVER_TIMERS

    def __repr__(self) -> str:
        return f"<ServerTransaction {self.method} {self.base[1]} {self.state.value}>"


def base_key(request: Request) -> BaseKey:
    """The method-less part of the key matching ``request`` to a server transaction.

    §17.2.3: with the magic cookie, the top Via branch and sent-by; without
    it (RFC 2543 peers), Request-URI, From tag, Call-ID, CSeq number and the
    whole top Via.  The To tag, compared separately, completes the 2543 key.
    """
    via = request.via
    if via.is_compliant:
        host, port = via.sent_by
        return ("3261", via.branch, host.lower(), port)
    return ("2543", str(request.uri), request.from_.tag, request.call_id,
            request.cseq.number, str(via))


def matches_to_tag(transaction: ServerTransaction, request: Request) -> bool:
    """The To-tag part of RFC 2543 matching (§17.2.3); always true with a branch.

    An ACK carries the tag of the response it acknowledges; any other request
    the tag its original had.
    """
    if transaction.request.via.is_compliant:
        return True
    if request.method == "ACK":
        expected = transaction.to_tag or transaction.request.to.tag
    else:
        expected = transaction.request.to.tag
    return request.to.tag == expected


def merge_key(request: Request) -> tuple[object, ...] | None:
    """From tag, Call-ID and CSeq of a request without To tag, for §8.2.2.2; else None."""
    if request.to.tag is not None or request.method in ("ACK", "CANCEL"):
        return None
    return (request.from_.tag, request.call_id, request.cseq.number, request.cseq.method)
