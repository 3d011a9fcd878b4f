"""Vocabulary shared by the four transaction state machines (RFC 3261 §17).

Each machine is a table ``TRANSITIONS[state][stimulus] -> Transition(next,
action)``; a stimulus missing from a state's row is absorbed (the RFC's
"silently discarded" / "no action").  Timers are declared per state in a
second table: a timer runs exactly while the transaction is in a state that
lists it, so entering a state starts its timers and cancels the others.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

from .wire import WireRequest

if TYPE_CHECKING:
    from ..message import Request
    from .target import Target


class Stimulus(Enum):
    """What can happen to a transaction."""

    #: A response of that class: received (client side) or sent by the TU (server side).
    PROVISIONAL = "1xx"
    SUCCESS = "2xx"
    FAILURE = "3xx-6xx"
    #: A retransmission of the request that created a server transaction.
    REQUEST = "request"
    #: An ACK matched to an INVITE server transaction.
    ACK = "ack"
    #: The transport could not send a message of the transaction (§17.1.4, §17.2.4).
    TRANSPORT_ERROR = "transport error"
    TIMER_A = "A"  # INVITE client: retransmit the request (§17.1.1.2)
    TIMER_B = "B"  # INVITE client: give up waiting for a response
    TIMER_D = "D"  # INVITE client: absorb retransmitted final responses
    TIMER_E = "E"  # non-INVITE client: retransmit the request (§17.1.2.2)
    TIMER_F = "F"  # non-INVITE client: give up waiting for a final response
    TIMER_K = "K"  # non-INVITE client: absorb retransmitted responses
    TIMER_G = "G"  # INVITE server: retransmit the final response (§17.2.1)
    TIMER_H = "H"  # INVITE server: give up waiting for the ACK
    TIMER_I = "I"  # INVITE server: absorb retransmitted ACKs
    TIMER_J = "J"  # non-INVITE server: absorb retransmitted requests (§17.2.2)
    TIMER_L = "L"  # INVITE server, Accepted: absorb retransmitted INVITEs (RFC 6026 §8.7)
    #: INVITE client, Proceeding: 64*T1 after our CANCEL and still no final response (§9.1).
    CANCEL_EXPIRED = "cancel"

    @classmethod
    def for_status(cls, status: int) -> Stimulus:
        if status < 200:
            return cls.PROVISIONAL
        return cls.SUCCESS if status < 300 else cls.FAILURE


class Action(Enum):
    """What a transition does besides changing state."""

    NONE = "none"
    #: Client: hand the response to the TU (``ResponseReceived``).
    PASS_UP = "pass up"
    #: INVITE client: build and send the ACK for a 3xx-6xx, then pass it up (§17.1.1.3).
    ACK_AND_PASS_UP = "ack and pass up"
    #: INVITE client: a retransmitted 3xx-6xx; send the same ACK again, absorb it.
    RE_ACK = "re-ack"
    #: Retransmit the request (client) or the final response (server) and back off.
    RETRANSMIT = "retransmit"
    #: Tell the TU the transaction timed out (``TransactionTimedOut``).
    TIME_OUT = "time out"
    #: Tell the TU the transport failed (``TransportFailed``).
    TRANSPORT_FAILED = "transport failed"
    #: Server: send the response the TU passed down and remember it.
    SEND = "send"
    #: Server: a retransmitted request; send the last response again, if any.
    RESEND = "resend"
    #: INVITE server, Accepted: an ACK matched by branch, handed to the TU (RFC 6026 §8.7).
    PASS_ACK = "pass ack"


S = TypeVar("S", bound=Enum)


class Transition(NamedTuple, Generic[S]):
    next: S
    action: Action


Table = dict[S, dict[Stimulus, Transition[S]]]


class Transaction:
    """What client and server transactions share; the layer drives both.

    Owned by :class:`~media.sip.transactions.layer.TransactionLayer`: the TU
    reads ``request``, ``state`` and ``target`` and never mutates them.
    ``target`` is where this side sends: the request's destination (client)
    or the response address (server).

    Once only retransmissions are left to absorb, the layer calls
    :meth:`compact`: the parsed request is dropped for its wire form (see
    :mod:`.wire`), and a server transaction is then parked as bytes (see
    :mod:`.table`).  Timers are keyed by :class:`Stimulus` value, a string,
    so that they are plain data too.
    """

    __slots__ = (
        "__weakref__",
        "_request",
        "_request_wire",
        "internal",
        "intervals",
        "key",
        "method",
        "serial",
        "target",
        "timers",
    )

    state: Any  # the subclass's state Enum, kept in its own slot

    def __init__(self, request: Request, target: Target, key: tuple[object, ...]) -> None:
        self._request: Request | None = request
        self._request_wire = b""
        self.method = request.method
        self.target = target
        self.key = key
        #: Number given by the layer's table; its indexes and timers refer to it.
        self.serial = -1
        #: Set for transactions the layer runs on its own (482, 481 and 200 to CANCEL).
        self.internal = False
        #: Running timers: stimulus value -> generation of its live heap entry.
        self.timers: dict[str, int] = {}
        #: Current interval of each running retransmission timer (A, E, G), by stimulus value.
        self.intervals: dict[str, float] = {}

    @property
    def request(self) -> Request:
        """The request; once compacted, a view parsed from its wire form on each access."""
        if self._request is not None:
            return self._request
        return WireRequest(self._request_wire)

    @property
    def compacted(self) -> bool:
        return self._request is None

    def compact(self) -> None:
        """Keep wire bytes instead of parsed messages, for the rest of the transaction."""
        if self._request is not None:
            self._request_wire = bytes(self._request)
            self._request = None

    def step(self, stimulus: Stimulus) -> Action | None:
        """Apply ``stimulus`` to the state; the transition's action, or None if absorbed."""
        transition = self.table[self.state].get(stimulus)
        if transition is None:
            return None
        self.state = transition.next
        return transition.action

    @property
    def active_timers(self) -> frozenset[Stimulus]:
        """The timers that run in the current state."""
        return self.timer_table.get(self.state, frozenset())

    @property
    def table(self) -> Any:
        """This machine's ``TRANSITIONS[state][stimulus]`` (RFC 3261 figures 5-8)."""
        raise NotImplementedError

    @property
    def timer_table(self) -> Any:
        """The timers that run in each state."""
        raise NotImplementedError

    @property
    def terminated(self) -> bool:
        raise NotImplementedError

    @property
    def absorbing(self) -> bool:
        """True in the states that only absorb (or retransmit) until a timer ends them."""
        raise NotImplementedError

    @property
    def is_invite(self) -> bool:
        return self.method == "INVITE"

    @property
    def reliable(self) -> bool:
        return self.target.reliable
