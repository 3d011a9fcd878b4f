"""The transaction layer (RFC 3261 §17): all transactions, their timers, one outbox.

Sans-IO in the aioquic manner: the transport adapter feeds parsed messages
with their source and the time (``receive_request``, ``receive_response``),
fires ``handle_timer(now)`` at ``next_timer()``, and drains
``messages_to_send()``.  The transaction user (the user-agent core) reads the
returned events and answers with ``send_response`` / ``send_request``.

A timer of zero duration (Timer D/I/J/K on reliable transports) is scheduled
at ``now``: ``next_timer()`` then returns ``now`` and the adapter's next
``handle_timer`` call ends the transaction, so every termination is reported
by a call that returns events.

A transaction that only absorbs retransmissions for a while (Completed,
Confirmed, Accepted) keeps wire bytes instead of parsed messages
(``compact``), and a server one is parked as a plain tuple the garbage
collector does not walk (:mod:`.table`): retransmissions are the same bytes
again, and the 32 s the RFC keeps each transaction cost no collection time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from ..errors import LocalProtocolError, RemoteProtocolError
from ..events import (
    AckReceived,
    CancelReceived,
    Event,
    RequestReceived,
    ResponseReceived,
    StrayResponse,
    TransactionTerminated,
    TransactionTimedOut,
    TransportFailed,
)
from ..ids import new_branch, new_tag
from ..message import Message, Request, Response, make_response
from .client import ClientState, ClientTransaction, build_ack, build_cancel
from .fsm import Action, Stimulus, Transaction
from .server import BaseKey, ServerTransaction, base_key, matches_to_tag, merge_key
from .table import TransactionTable
from .target import Target, replace_top_via, response_target, stamp_via
from .timers import RETRANSMIT_TIMERS, TimerHeap, TimerValues

_REQUIRED_HEADERS = ("Via", "From", "To", "Call-ID", "CSeq")


class _Input(NamedTuple):
    """What a transition's action may need besides the transaction."""

    stimulus: Stimulus
    message: Message | None = None
    source: Target | None = None


class TransactionLayer:
    """Client and server transactions of one SIP element.  See the module docstring.

    ``t1``, ``t2`` and ``t4`` are the timer values of §17.1.1.1 and §17.1.2.2.
    """

    def __init__(self, *, t1: float = 0.5, t2: float = 4.0, t4: float = 5.0) -> None:
        self.timer_values = TimerValues(t1, t2, t4)
        self._heap = TimerHeap()
        self._table = TransactionTable()
        self._outbox: list[tuple[Message, Target]] = []
        self._actions: dict[Action, Callable[[Transaction, _Input, float], list[Event]]] = {
            Action.NONE: self._do_nothing,
            Action.PASS_UP: self._pass_up,
            Action.ACK_AND_PASS_UP: self._ack_and_pass_up,
            Action.RE_ACK: self._re_ack,
            Action.RETRANSMIT: self._retransmit,
            Action.TIME_OUT: self._time_out,
            Action.TRANSPORT_FAILED: self._transport_failed,
            Action.SEND: self._send,
            Action.RESEND: self._resend,
            Action.PASS_ACK: self._pass_ack,
        }

    # -- inputs from the transport ---------------------------------------------------

    def receive_request(self, request: Request, source: Target, now: float) -> list[Event]:
        """A request arrived from ``source``: match it (§17.2.3) or start a transaction.

        Stamps the top Via first (§18.2.1, RFC 3581).  Raises
        :class:`RemoteProtocolError` (400) if a header every request needs is
        missing or the CSeq method differs from the request's (§8.1.1).
        """
        _check_request(request)
        stamp_via(request, source)
        if request.method == "ACK":
            return self._receive_ack(request, source, now)
        base = base_key(request)
        existing = self._table.server((base, request.method))
        if existing is not None and matches_to_tag(existing, request):
            return self._fire(existing, Stimulus.REQUEST, now)
        if request.method == "CANCEL":
            return self._receive_cancel(request, base, source, now)
        if self._is_merged(request):
            self._answer(request, source, 482, now)  # §8.2.2.2
            return []
        transaction = self._new_server(request, source, now)
        if transaction.is_invite:  # §17.2.1: 100 Trying at once, Timestamp copied (§8.2.6.1)
            self.send_response(transaction, make_response(request, 100), now)
        return [RequestReceived(transaction, request)]

    def receive_response(self, response: Response, now: float) -> list[Event]:
        """A response arrived: match it by top Via branch and CSeq method (§17.1.3)."""
        via, cseq = response.via, response.cseq
        if via is None or cseq is None:
            return []  # nothing to match it on: the parser lets no such response through
        transaction = self._table.client((via.branch, cseq.method))
        if transaction is None:
            return [StrayResponse(response)]
        events = self._fire(transaction, Stimulus.for_status(response.status), now, response)
        if transaction.cancel_pending and transaction.state is ClientState.PROCEEDING:
            self._send_cancel(transaction, now)
        return events

    def transport_error(self, transaction: Transaction, now: float) -> list[Event]:
        """The transport failed to send a message of ``transaction`` (§17.1.4, §17.2.4)."""
        return self._fire(transaction, Stimulus.TRANSPORT_ERROR, now)

    def handle_timer(self, now: float) -> list[Event]:
        """Fire every timer due at ``now``, earliest first."""
        events: list[Event] = []
        while (due := self._heap.pop_due(now)) is not None:
            serial, generation = due
            transaction = self._table.get(serial)
            timer = None if transaction is None else self._heap.claim(transaction, generation)
            if transaction is not None and timer is not None:
                events.extend(self._fire(transaction, timer, now))
        return events

    # -- commands from the transaction user ------------------------------------------

    def send_request(self, request: Request, target: Target, now: float) -> ClientTransaction:
        """Start a client transaction for ``request``, sent to ``target`` (§17.1).

        The request needs a top Via; a missing branch is filled with a fresh
        one.  The layer owns ``request`` from now on (it retransmits it).  An
        ACK is never a transaction: send the ACK for a 2xx with
        :meth:`send_stateless` (§13.2.2.4).
        """
        if request.method == "ACK":
            raise LocalProtocolError("an ACK is not a transaction: use send_stateless")
        via = request.via
        if via is None:
            raise LocalProtocolError("a request needs a top Via (§8.1.1.7)")
        if not via.branch:
            via = via.with_params(branch=new_branch())
            request.headers = replace_top_via(request.headers, via)
        if not via.is_compliant:
            raise LocalProtocolError(f"branch {via.branch!r} lacks the magic cookie")
        key = (via.branch, request.method)
        if self._table.has_client(key):
            raise LocalProtocolError(f"branch {via.branch!r} is already in use for {key[1]}")
        transaction = ClientTransaction(request, target, key)
        self._table.add_client(transaction)
        self._outbox.append((request, target))
        self._start_timers(transaction, now)
        if request.method == "CANCEL":
            self._expire_cancelled(key, now)
        return transaction

    def send_response(
        self, transaction: ServerTransaction, response: Response, now: float
    ) -> None:
        """Send ``response`` on ``transaction`` (§17.2.1, §17.2.2).

        A response the state does not allow — a second final response, anything
        once terminated — is discarded, as §17.2.2 says.  Raises
        :class:`LocalProtocolError` if the response is not for this request.
        """
        cseq = response.cseq
        if cseq is None or (cseq.number, cseq.method) != (transaction.cseq, transaction.method):
            raise LocalProtocolError(f"{response!r} does not answer {transaction!r}")
        self._fire(transaction, Stimulus.for_status(response.status), now, response)

    def send_stateless(self, message: Message, target: Target) -> None:
        """Queue ``message`` outside any transaction (ACK for a 2xx, §13.2.2.4)."""
        self._outbox.append((message, target))

    def build_cancel(self, transaction: ClientTransaction) -> Request:
        """The CANCEL for a client INVITE transaction (§9.1); send it with :meth:`send_request`.

        Raises :class:`LocalProtocolError` unless a provisional response has
        arrived and no final one: before, §9.1 forbids sending it (use
        :meth:`cancel`, which waits); after, there is nothing to cancel.
        """
        if not transaction.is_invite:
            raise LocalProtocolError("only an INVITE can be cancelled (§9.1)")
        if transaction.state is not ClientState.PROCEEDING:
            raise LocalProtocolError(
                f"cannot CANCEL an INVITE in state {transaction.state.value} (§9.1)"
            )
        return build_cancel(transaction.request)

    def cancel(self, transaction: ClientTransaction, now: float) -> ClientTransaction | None:
        """Cancel a client INVITE transaction as soon as §9.1 allows.

        Proceeding: the CANCEL is sent now and its transaction returned.
        Calling: it is sent when the first provisional response arrives (its
        ``ResponseReceived`` events then name a transaction the TU has not
        seen); None.  Final response already received: nothing to do; None.
        """
        if not transaction.is_invite:
            raise LocalProtocolError("only an INVITE can be cancelled (§9.1)")
        running = self._table.client((transaction.key[0], "CANCEL"))
        if running is not None:
            return running
        if transaction.state is ClientState.PROCEEDING:
            return self._send_cancel(transaction, now)
        if transaction.state is ClientState.CALLING:
            transaction.cancel_pending = True
        return None

    # -- outputs -----------------------------------------------------------------------

    def messages_to_send(self) -> list[tuple[Message, Target]]:
        """Drain the outbox: each message with where it goes, in order."""
        out, self._outbox = self._outbox, []
        return out

    def next_timer(self) -> float | None:
        """The earliest timer deadline, or None when no timer runs."""
        return self._heap.next_deadline()

    def transaction_of(self, message: Message) -> Transaction | None:
        """The transaction that sent ``message`` (for :meth:`transport_error`), if known."""
        if isinstance(message, Request):
            return self._table.client((message.via.branch, message.method))
        if message.via.is_compliant:
            key = (base_key_of_response(message), message.cseq.method)
            found = self._table.server(key)
            if found is not None:
                return found
        return next((t for t in self._table.all_servers() if t.sent(message)), None)

    @property
    def transaction_count(self) -> int:
        return self._table.count

    @property
    def is_idle(self) -> bool:
        """No transaction, index entry or live timer left (the no-leak invariant)."""
        return self._table.is_empty and self.next_timer() is None

    # -- server side -----------------------------------------------------------------

    def _receive_ack(self, ack: Request, source: Target, now: float) -> list[Event]:
        """§17.2.3: an ACK matches the INVITE transaction whose 3xx-6xx it acknowledges."""
        transaction = self._table.server((base_key(ack), "INVITE"))
        if transaction is None or not matches_to_tag(transaction, ack):
            return [AckReceived(ack, source)]  # an ACK for a 2xx: its own transaction (§17)
        return self._fire(transaction, Stimulus.ACK, now, ack, source)

    def _receive_cancel(
        self, cancel: Request, base: BaseKey, source: Target, now: float
    ) -> list[Event]:
        """§9.2: 200 to a CANCEL that matches a transaction, 481 otherwise.

        The 200 reuses the To tag of the INVITE's responses when there is one.
        """
        target = self._table.cancel_target(base)
        if target is None or not matches_to_tag(target, cancel):
            self._answer(cancel, source, 481, now)
            return []
        self._answer(cancel, source, 200, now, to_tag=target.to_tag)
        if target.is_invite and not target.has_final_response:
            return [CancelReceived(target, cancel)]
        return []

    def _is_merged(self, request: Request) -> bool:
        """§8.2.2.2: no To tag, and a live transaction has its From tag, Call-ID and CSeq."""
        key = merge_key(request)
        return key is not None and self._table.is_merged(key)

    def _answer(
        self, request: Request, source: Target, status: int, now: float, to_tag: str | None = None
    ) -> None:
        """Answer ``request`` on a transaction of the layer's own, hidden from the TU."""
        transaction = self._new_server(request, source, now, internal=True)
        response = make_response(request, status, to_tag=to_tag or new_tag())
        self.send_response(transaction, response, now)

    def _new_server(
        self, request: Request, source: Target, now: float, *, internal: bool = False
    ) -> ServerTransaction:
        target = response_target(request.via, source)
        transaction = ServerTransaction(request, source, target, base_key(request))
        transaction.internal = internal
        self._table.add_server(transaction)
        self._start_timers(transaction, now)
        return transaction

    # -- client side -----------------------------------------------------------------

    def _expire_cancelled(self, cancel_key: tuple[object, ...], now: float) -> None:
        """§9.1: a cancelled INVITE gets 64*T1 more for its final response, then ends.

        The timer is cancelled, like the table's, when the INVITE leaves Proceeding.
        """
        invite = self._table.client((cancel_key[0], "INVITE"))
        if invite is not None and invite.state is ClientState.PROCEEDING:
            timer = Stimulus.CANCEL_EXPIRED
            if timer.value not in invite.timers:
                duration = self.timer_values.initial(timer, invite.reliable)
                assert duration is not None
                self._heap.start(invite, timer, now + duration)

    def _send_cancel(self, transaction: ClientTransaction, now: float) -> ClientTransaction:
        transaction.cancel_pending = False
        return self.send_request(build_cancel(transaction.request), transaction.target, now)

    # -- the state machine engine ----------------------------------------------------

    def _fire(
        self,
        transaction: Transaction,
        stimulus: Stimulus,
        now: float,
        message: Message | None = None,
        source: Target | None = None,
    ) -> list[Event]:
        """Apply one stimulus: table lookup, action, timers of the new state, cleanup."""
        timers_before = transaction.active_timers
        action = transaction.step(stimulus)
        if action is None:
            return []  # absorbed: not in the table for this state
        events = self._actions[action](transaction, _Input(stimulus, message, source), now)
        if transaction.active_timers != timers_before:
            self._start_timers(transaction, now)
        if transaction.terminated:
            events.extend(self._terminate(transaction))
        else:
            if transaction.absorbing and (transaction.compacted or self._lingers(transaction)):
                transaction.compact()  # (again, after a 2xx the TU passed in Accepted)
            self._table.settle(transaction)
        return [] if transaction.internal else events

    def _lingers(self, transaction: Transaction) -> bool:
        """True when a timer of the state keeps ``transaction`` for a while (not zero, §17)."""
        reliable = transaction.reliable
        return any(self.timer_values.initial(t, reliable) for t in transaction.active_timers)

    def _start_timers(self, transaction: Transaction, now: float) -> None:
        """Cancel the timers the state does not list, start those it lists (fresh)."""
        wanted = transaction.active_timers
        for timer in [Stimulus(v) for v in transaction.timers]:
            if timer not in wanted:
                self._heap.cancel(transaction, timer)
        for timer in wanted:
            if timer.value in transaction.timers:
                continue
            duration = self.timer_values.initial(timer, transaction.reliable)
            if duration is not None:
                if timer in RETRANSMIT_TIMERS:
                    transaction.intervals[timer.value] = duration
                self._heap.start(transaction, timer, now + duration)

    def _terminate(self, transaction: Transaction) -> list[Event]:
        """Remove ``transaction`` from the table and stop its timers."""
        self._heap.cancel_all(transaction)
        self._table.remove(transaction)
        assert isinstance(transaction, ClientTransaction | ServerTransaction)
        return [TransactionTerminated(transaction)]

    # -- actions (one per Action member) -----------------------------------------------

    def _do_nothing(self, transaction: Transaction, data: _Input, now: float) -> list[Event]:
        return []

    def _pass_up(self, transaction: Transaction, data: _Input, now: float) -> list[Event]:
        assert isinstance(transaction, ClientTransaction)
        assert isinstance(data.message, Response)
        return [ResponseReceived(transaction, data.message)]

    def _ack_and_pass_up(self, transaction: Transaction, data: _Input, now: float) -> list[Event]:
        assert isinstance(transaction, ClientTransaction)
        assert isinstance(data.message, Response)
        transaction.ack = build_ack(transaction.request, data.message)
        self._outbox.append((transaction.ack, transaction.target))
        return [ResponseReceived(transaction, data.message)]

    def _re_ack(self, transaction: Transaction, data: _Input, now: float) -> list[Event]:
        assert isinstance(transaction, ClientTransaction)
        if transaction.ack is not None:
            self._outbox.append((transaction.ack, transaction.target))
        return []

    def _retransmit(self, transaction: Transaction, data: _Input, now: float) -> list[Event]:
        """Timer A/E/G: send again, restart the timer with the backed-off interval."""
        message: Message | None
        if isinstance(transaction, ServerTransaction):
            message = transaction.last_response  # Timer G: the 3xx-6xx, as bytes (compacted)
        else:
            message = transaction.request  # Timer A/E: still the object (not compacted)
        if message is not None:
            self._outbox.append((message, transaction.target))
        timer = data.stimulus
        proceeding = (
            isinstance(transaction, ClientTransaction)
            and transaction.state is ClientState.PROCEEDING
        )
        interval = self.timer_values.backoff(timer, transaction.intervals[timer.value], proceeding)
        transaction.intervals[timer.value] = interval
        self._heap.start(transaction, timer, now + interval)
        return []

    def _time_out(self, transaction: Transaction, data: _Input, now: float) -> list[Event]:
        assert isinstance(transaction, ClientTransaction | ServerTransaction)
        return [TransactionTimedOut(transaction, data.stimulus.value)]

    def _transport_failed(self, transaction: Transaction, data: _Input, now: float) -> list[Event]:
        assert isinstance(transaction, ClientTransaction | ServerTransaction)
        return [TransportFailed(transaction)]

    def _send(self, transaction: Transaction, data: _Input, now: float) -> list[Event]:
        """Send and remember the response; one that ends in a lingering state goes out as
        the bytes the transaction keeps (serialized once, retransmitted identical)."""
        assert isinstance(transaction, ServerTransaction)
        assert isinstance(data.message, Response)
        message: Response | None = data.message
        first_compaction = not transaction.compacted
        transaction.record_response(data.message)
        if first_compaction and transaction.absorbing and self._lingers(transaction):
            transaction.compact()
            message = transaction.last_response
        assert message is not None
        self._outbox.append((message, transaction.target))
        return []

    def _resend(self, transaction: Transaction, data: _Input, now: float) -> list[Event]:
        assert isinstance(transaction, ServerTransaction)
        response = transaction.last_response
        if response is not None:
            self._outbox.append((response, transaction.target))
        return []

    def _pass_ack(self, transaction: Transaction, data: _Input, now: float) -> list[Event]:
        assert isinstance(transaction, ServerTransaction)
        assert isinstance(data.message, Request) and data.source is not None
        return [AckReceived(data.message, data.source, transaction)]


def base_key_of_response(response: Response) -> BaseKey:
    """The server-transaction base key a response's top Via names (branch + sent-by)."""
    host, port = response.via.sent_by
    return ("3261", response.via.branch, host.lower(), port)


def _check_request(request: Request) -> None:
    """The headers matching needs must be there (§8.1.1); the parser checks this too."""
    for name in _REQUIRED_HEADERS:
        if request.headers.get(name) is None:
            raise RemoteProtocolError(f"Missing {name} header", 400)
    if request.cseq.method != request.method:
        raise RemoteProtocolError("CSeq method does not match the request method", 400)

