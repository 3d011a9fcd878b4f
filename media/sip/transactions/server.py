"""Server transactions (RFC 3261 §17.2): states, transition tables, matching keys.

The INVITE server machine is figure 7 of RFC 3261 with the Accepted state of
RFC 6026 §7.1: after a 2xx the transaction stays 64*T1 to absorb
retransmitted INVITEs (instead of showing them to the TU as new calls) and
to let the TU send its own 2xx retransmissions through it.  The non-INVITE
machine is figure 8.
"""

from __future__ import annotations

import marshal
from enum import Enum
from typing import Any, cast

from ..message import Request, Response
from .fsm import Action, Stimulus, Table, Transaction, Transition
from .target import Target, TargetFields, target_fields
from .wire import WireResponse


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

#: After the final response only copies are absorbed (or the 3xx-6xx retransmitted).
ABSORBING_STATES = frozenset({_V.COMPLETED, _V.CONFIRMED, _V.ACCEPTED})

#: ("3261", branch, sent-by host, sent-by port) or the RFC 2543 tuple; see :func:`base_key`.
BaseKey = tuple[object, ...]

#: The fields :meth:`ServerTransaction.park` marshals, in order.
_Parked = tuple[
    int, tuple[object, ...], bool, TargetFields, TargetFields, bytes, bytes, str, int,
    str | None, str | None, int, tuple[object, ...] | None, tuple[str, ...], tuple[int, ...],
    tuple[str, ...], tuple[float, ...],
]  # fmt: skip
#: The connection handles (target's, source's) a parked transaction cannot marshal.
Links = tuple[object, object]


class ServerTransaction(Transaction):
    """One request we received and our responses to it (§17.2).

    ``source`` is where the request came from; ``target`` where responses go
    (§18.2.2, computed once from the stamped top Via).  What matching needs
    later (To tag, CSeq number, the §8.2.2.2 merge key) is copied out of the
    request at once, so :meth:`compact` can let it go.
    """

    __slots__ = (
        "_response",
        "_wire",
        "base",
        "cseq",
        "merge",
        "request_to_tag",
        "source",
        "state",
        "status",
        "to_tag",
    )

    def __init__(self, request: Request, source: Target, target: Target, base: BaseKey) -> None:
        super().__init__(request, target, (base, request.method))
        #: The method-less matching key (:func:`base_key`); CANCELs are matched on it.
        self.base = base
        #: The §8.2.2.2 key this transaction holds in the layer's merge index, if any.
        self.merge = merge_key(request)
        self.cseq = request.cseq.number
        self.request_to_tag = request.to.tag
        self.source = source
        self.state = ServerState.PROCEEDING if self.is_invite else ServerState.TRYING
        #: Status and To tag of the latest response sent (0 and None before the first).
        self.status = 0
        self.to_tag: str | None = None
        self._response: Response | None = None
        self._wire = b""

    @property
    def last_response(self) -> Response | None:
        """The latest response sent; a retransmitted request gets it again.

        Once compacted, a view of the bytes sent (:class:`.wire.WireResponse`).
        """
        if self._response is not None or not self._wire:
            return self._response
        return WireResponse(self._wire)

    def record_response(self, response: Response) -> None:
        """Remember ``response`` as the latest sent."""
        self.status = response.status
        self.to_tag = response.to.tag
        self._response = response
        self._wire = b""

    def sent(self, response: Response) -> bool:
        """True when ``response`` is the latest sent (itself, or a view of its bytes)."""
        if isinstance(response, WireResponse):
            return bool(self._wire) and response.wire is self._wire
        return response is self._response

    def compact(self) -> None:
        if self._response is not None:
            self._wire = bytes(self._response)
            self._response = None
        super().compact()

    @property
    def has_final_response(self) -> bool:
        return self.status >= 200

    def park(self) -> tuple[bytes, Links | None]:
        """This compacted transaction as bytes, and its connection handles if any.

        Bytes, because the garbage collector does not track them (see
        :mod:`.table`); :meth:`unpark` rebuilds an equal transaction from both.
        """
        assert self.compacted and self._response is None
        transport, host, port, target_link = target_fields(self.target)
        source_transport, source_host, source_port, source_link = target_fields(self.source)
        parked: _Parked = (
            self.serial, self.key, self.internal, (transport, host, port, None),
            (source_transport, source_host, source_port, None),
            self._request_wire, self._wire, self.state.value, self.status, self.to_tag,
            self.request_to_tag, self.cseq, self.merge, tuple(self.timers),
            tuple(self.timers.values()), tuple(self.intervals), tuple(self.intervals.values()),
        )  # fmt: skip
        links = None if target_link is None and source_link is None else (target_link, source_link)
        return marshal.dumps(cast(Any, parked)), links

    @classmethod
    def unpark(cls, data: bytes, links: Links | None = None) -> ServerTransaction:
        """A transaction equal to the one :meth:`park` made ``data`` and ``links`` from."""
        self = cls.__new__(cls)
        parked: _Parked = marshal.loads(data)
        (
            self.serial, self.key, self.internal, target, source,
            self._request_wire, self._wire, state, self.status, self.to_tag,
            self.request_to_tag, self.cseq, self.merge, timers, generations, retransmits,
            intervals,
        ) = parked  # fmt: skip
        target_link, source_link = links or (None, None)
        self.target = Target(target[0], target[1], target[2], target_link)
        self.source = Target(source[0], source[1], source[2], source_link)
        self.base, self.method = cast(tuple[BaseKey, str], self.key)
        self.state = ServerState(state)
        self.timers = dict(zip(timers, generations, strict=True))
        self.intervals = dict(zip(retransmits, intervals, strict=True))
        self._request = self._response = None
        return self

    @property
    def terminated(self) -> bool:
        return self.state is ServerState.TERMINATED

    @property
    def absorbing(self) -> bool:
        return self.state in ABSORBING_STATES

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
    if transaction.base[0] == "3261":
        return True
    if request.method == "ACK":
        expected = transaction.to_tag or transaction.request_to_tag
    else:
        expected = transaction.request_to_tag
    return request.to.tag == expected


def merge_key(request: Request) -> tuple[object, ...] | None:
    """From tag, Call-ID and CSeq of a request without To tag, for §8.2.2.2; else None."""
    if request.to.tag is not None or request.method in ("ACK", "CANCEL"):
        return None
    return (request.from_.tag, request.call_id, request.cseq.number, request.cseq.method)
