"""The user-agent core (RFC 3261 §8.2, §12-§15): transactions in, calls out.

:class:`UserAgent` sits on the transaction layer.  It turns transaction events
into dialogs and :class:`~media.sip.session.CallSession` objects, answers
what needs no application decision (OPTIONS, BYE, stray requests, glare), and
queues :mod:`media.sip.call_events` for the application.  Sans-IO: the asyncio
edge feeds parsed messages and the time, and drains ``messages_to_send()``.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from . import call_events as ev
from . import events as tev
from .dialog import Dialog, DialogId, DialogState
from .errors import LocalProtocolError, RemoteProtocolError
from .headers import HeaderValue, NameAddr, Via
from .ids import new_tag
from .message import Message, Request, Response, make_response
from .session import CallSession, EndReason, SessionState
from .transaction import ClientTransaction, ServerTransaction, Target, TransactionLayer
from .uri import SipUri

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REGISTER"
SUPPORTED: frozenset[str] = frozenset()  # no extensions yet: any Require gets 420 (§8.2.2.3)


class BadExtension(RemoteProtocolError):
    """420: the request requires extensions we lack; the reply lists them (§8.2.2.3)."""

    def __init__(self, unsupported: Iterable[str]) -> None:
        self.unsupported = sorted(unsupported)
        super().__init__(f"Bad Extension: {', '.join(self.unsupported)}", 420)


@dataclass(frozen=True, slots=True)
class LocalIdentity:
    """How we name ourselves in Contact, Via and Server headers."""

    host: str
    port: int
    user: str = "hotline"
    product: str = "Hotline/0.1"

    def contact(self, transport: str) -> NameAddr:
        params: dict[str, str | None] = {} if transport == "udp" else {"transport": transport}
        return NameAddr(SipUri(self.host, self.user, port=self.port, params=params))

    def via(self, transport: str) -> Via:
        return Via(transport.upper(), self.host, self.port, {"rport": None})


class UserAgent:
    """A UAS/UAC core over one :class:`TransactionLayer`.  See the module docstring."""

    def __init__(
        self,
        transactions: TransactionLayer,
        identity: LocalIdentity,
        *,
        t1: float = 0.5,
        t2: float = 4.0,
    ) -> None:
        self.transactions = transactions
        self.identity = identity
        self.t1, self.t2 = t1, t2
        self.accepting = True
        self.sessions: dict[DialogId, CallSession] = {}
        self._by_invite: dict[ServerTransaction, CallSession] = {}
        self._by_client: dict[ClientTransaction, CallSession] = {}
        self._by_invite_key: dict[tuple[str, str, int], CallSession] = {}
        self._events: deque[ev.Event] = deque()
        self._outbox: list[tuple[Message, Target]] = []
        self._timers: list[tuple[float, int, str, CallSession]] = []
        self._seq = itertools.count()

    # -- inputs -----------------------------------------------------------------

    def receive(self, message: Message, source: Target, now: float) -> None:
        """Feed one parsed message that arrived from ``source``."""
        if isinstance(message, Request):
            events = self.transactions.receive_request(message, source, now)
        else:
            events = self.transactions.receive_response(message, now)
        self._dispatch(events, now)

    def handle_timer(self, now: float) -> None:
        """Fire every transaction and session timer due at ``now``."""
        self._dispatch(self.transactions.handle_timer(now), now)
        while self._timers and self._timers[0][0] <= now:
            _, _, kind, session = heapq.heappop(self._timers)
            getattr(self, f"_on_{kind}")(session, now)

    def next_timer(self) -> float | None:
        deadlines = [t for t in (self.transactions.next_timer(),) if t is not None]
        if self._timers:
            deadlines.append(self._timers[0][0])
        return min(deadlines, default=None)

    def live_sessions(self) -> list[CallSession]:
        """Every call not yet ended, including those that only had 100 Trying."""
        return [s for s in self._by_invite_key.values() if s.state is not SessionState.ENDED]

    # -- outputs ----------------------------------------------------------------

    def next_events(self) -> list[ev.Event]:
        events, self._events = list(self._events), deque()
        return events

    def messages_to_send(self) -> list[tuple[Message, Target]]:
        out = self.transactions.messages_to_send()
        if self._outbox:
            out.extend(self._outbox)
            self._outbox = []
        return out

    # -- commands: incoming calls -----------------------------------------------

    def ring(self, session: CallSession, now: float) -> None:
        """Send 180 Ringing; this creates the early dialog (§12.1.1)."""
        session.move("ring")
        self._send_final_or_provisional(session, 180, now)

    def answer(
        self, session: CallSession, body: bytes, now: float, content_type: str = "application/sdp"
    ) -> None:
        """Send 200 OK with ``body`` (an SDP answer, or our offer for an offer-less INVITE).

        The 2xx is retransmitted by us, not the transaction, until the ACK comes
        or 64*T1 passes (§13.3.1.4).
        """
        session.move("answer")
        session.answered_at = now
        session.dialog.state = DialogState.CONFIRMED
        response = self._send_final_or_provisional(
            session, 200, now, body=body, content_type=content_type
        )
        self._start_2xx_retransmit(session, response, session.transaction.target, now)

    def reject(
        self,
        session: CallSession,
        status: int,
        now: float,
        reason: str | None = None,
        headers: Iterable[tuple[str, HeaderValue]] = (),
    ) -> None:
        """Answer the INVITE with a 3xx-6xx final response; the call ends."""
        if not 300 <= status <= 699:
            raise LocalProtocolError(f"reject needs a 3xx-6xx status, not {status}")
        session.move("reject")
        self._send_final_or_provisional(session, status, now, reason=reason, headers=headers)
        self._end(session, EndReason.REJECTED, now)

    def hangup(self, session: CallSession, now: float, status: int = 480) -> None:
        """End the call from our side: BYE once answered, else a final ``status``.

        Before the caller's ACK the BYE waits for it, or for its timeout (§15);
        an ``end_reason`` already set (e.g. shutdown) is kept.
        """
        if session.state in (SessionState.INCOMING, SessionState.EARLY):
            self.reject(session, status, now)
        elif session.can("hangup"):
            awaiting_ack = session.state is SessionState.ANSWERED
            session.move("hangup")
            session.end_reason = session.end_reason or EndReason.LOCAL_BYE
            if not awaiting_ack:
                session.retransmit = None
                session.ack_deadline = None
                self._send_bye(session, now)

    def respond(self, transaction: ServerTransaction, response: Response, now: float) -> None:
        """Send a response the application built (e.g. to a REGISTER)."""
        self.transactions.send_response(transaction, response, now)

    # -- commands: re-INVITE (§14) ----------------------------------------------

    def answer_reinvite(
        self,
        session: CallSession,
        transaction: ServerTransaction,
        status: int,
        now: float,
        body: bytes = b"",
    ) -> None:
        """Answer a re-INVITE the application has looked at (2xx with SDP, or 488).

        A re-INVITE already answered (cancelled, or its call ended) is left alone.
        """
        if transaction.has_final_response:
            return
        session.reinvite_in = None
        self._by_invite.pop(transaction, None)
        headers: list[tuple[str, HeaderValue]] = [("Contact", self._contact(session))]
        if body:
            headers.append(("Content-Type", "application/sdp"))
        request = transaction.request
        response = make_response(request, status, headers=headers, body=body)
        self.transactions.send_response(transaction, response, now)
        if status < 300:
            self._start_2xx_retransmit(session, response, transaction.target, now)

    def reinvite(self, session: CallSession, body: bytes, now: float) -> None:
        """Send a re-INVITE (hold/unhold) with SDP ``body``."""
        if session.state is not SessionState.CONFIRMED:
            raise LocalProtocolError(f"cannot re-INVITE a call in state {session.state.value}")
        if session.reinvite_out is not None or session.reinvite_in is not None:
            raise LocalProtocolError("a re-INVITE is already in progress in this dialog")
        request = self._in_dialog_request(session, "INVITE", body=body)
        request.headers.add("Contact", self._contact(session))
        request.headers.add("Content-Type", "application/sdp")
        session.reinvite_out = self._send_request(session, request, now)

    # -- dispatch of transaction events -------------------------------------------

    def _dispatch(self, events: Iterable[tev.Event], now: float) -> None:
        for event in events:
            try:
                self._on_transaction_event(event, now)
            except RemoteProtocolError as exc:
                self._reply_error(event, exc, now)

    def _on_transaction_event(self, event: tev.Event, now: float) -> None:
        if isinstance(event, tev.RequestReceived):
            self._on_request(event.transaction, event.request, now)
        elif isinstance(event, tev.AckReceived):
            self._on_ack(event.request, now)
        elif isinstance(event, tev.CancelReceived):
            self._on_cancel(event.transaction, now)
        elif isinstance(event, tev.ResponseReceived):
            self._on_response(event.transaction, event.response, now)
        elif isinstance(event, tev.StrayResponse):
            self._on_stray_response(event.response)
        elif isinstance(event, tev.TransactionTimedOut | tev.TransportFailed):
            self._on_timeout(event.transaction, now)
        elif isinstance(event, tev.TransactionTerminated):
            self._forget_transaction(event.transaction)

    def _reply_error(self, event: tev.Event, exc: RemoteProtocolError, now: float) -> None:
        if isinstance(event, tev.RequestReceived) and event.request.method != "ACK":
            headers: list[tuple[str, HeaderValue]] = []
            if isinstance(exc, BadExtension):
                headers.append(("Unsupported", ", ".join(exc.unsupported)))
            response = make_response(
                event.request, exc.status, exc.reason, to_tag=new_tag(), headers=headers
            )
            self.transactions.send_response(event.transaction, response, now)

    # -- requests ---------------------------------------------------------------

    def _on_request(self, txn: ServerTransaction, request: Request, now: float) -> None:
        self._check_require(request)
        if request.to.tag is not None:
            self._on_in_dialog_request(txn, request, now)
        elif request.method == "INVITE":
            self._on_invite(txn, request, now)
        elif request.method == "REGISTER":
            self._events.append(ev.RegisterReceived(txn, request))
        elif request.method == "OPTIONS":
            self._send_options_ok(txn, request, now)
        elif request.method in ("BYE", "INFO"):
            raise RemoteProtocolError("Call/Transaction Does Not Exist", 481)
        else:
            self._send(txn, request, 405, now, headers=[("Allow", ALLOW)])

    def _check_require(self, request: Request) -> None:
        """§8.2.2.3: refuse a request that requires an extension we lack (420)."""
        if request.method in ("ACK", "CANCEL"):
            return
        required = {
            tag.strip().lower()
            for value in request.headers.get_all("Require")
            for tag in str(value).split(",")
            if tag.strip()
        }
        unsupported = required - SUPPORTED
        if unsupported:
            raise BadExtension(unsupported)

    def _on_invite(self, txn: ServerTransaction, request: Request, now: float) -> None:
        key = (request.call_id, request.from_.tag or "", request.cseq.number)
        known = self._by_invite_key.get(key)
        if known is not None:  # a copy arriving after its transaction ended (RFC 6026)
            if known.final_response is not None:  # answer it on its new transaction
                self.transactions.send_response(txn, known.final_response, now)
            else:  # its transaction failed unanswered: a merged request (§8.2.2.2)
                self._send(txn, request, 482, now)
            return
        if not self.accepting:
            self._send(txn, request, 503, now, headers=[("Retry-After", "5")])
            return
        dialog = Dialog.from_uas(request, new_tag())
        session = CallSession(request, txn, txn.source, dialog, started_at=now)
        self._by_invite[txn] = session
        self._by_invite_key[key] = session
        self._events.append(ev.IncomingCall(session))

    def _on_in_dialog_request(self, txn: ServerTransaction, request: Request, now: float) -> None:
        dialog_id = (request.call_id, request.to.tag or "", request.from_.tag or "")
        session = self.sessions.get(dialog_id)
        if session is None or session.state is SessionState.ENDED:
            raise RemoteProtocolError("Call/Transaction Does Not Exist", 481)
        session.dialog.check_request(request)
        handler = {
            "BYE": self._on_bye,
            "INVITE": self._on_reinvite,
            "INFO": self._on_info,
            "OPTIONS": self._on_in_dialog_options,
        }.get(request.method)
        if handler is None:
            self._send(txn, request, 405, now, headers=[("Allow", ALLOW)])
        else:
            handler(session, txn, request, now)

    def _on_bye(
        self, session: CallSession, txn: ServerTransaction, request: Request, now: float
    ) -> None:
        self._send(txn, request, 200, now)
        if session.state is SessionState.EARLY:  # §15.1.2: the INVITE still gets an answer
            self._send_final_or_provisional(session, 487, now)
        if session.can("bye_received"):
            session.move("bye_received")
            self._end(session, EndReason.REMOTE_BYE, now)

    def _on_reinvite(
        self, session: CallSession, txn: ServerTransaction, request: Request, now: float
    ) -> None:
        if session.reinvite_out is not None:  # glare: both sides re-INVITE at once (§14.2)
            raise RemoteProtocolError("Request Pending", 491)
        if session.reinvite_in is not None or session.state is not SessionState.CONFIRMED:
            self._send(txn, request, 500, now, headers=[("Retry-After", "1")])
            return
        session.dialog.refresh_target(request)
        session.reinvite_in = txn
        self._by_invite[txn] = session
        self._events.append(ev.ReinviteReceived(session, txn, request))

    def _on_info(
        self, session: CallSession, txn: ServerTransaction, request: Request, now: float
    ) -> None:
        self._send(txn, request, 200, now)
        self._events.append(ev.InfoReceived(session, request))

    def _on_in_dialog_options(
        self, session: CallSession, txn: ServerTransaction, request: Request, now: float
    ) -> None:
        self._send_options_ok(txn, request, now)

    def _send_options_ok(self, txn: ServerTransaction, request: Request, now: float) -> None:
        headers: list[tuple[str, HeaderValue]] = [
            ("Allow", ALLOW),
            ("Accept", "application/sdp"),
            ("Server", self.identity.product),
        ]
        self._send(txn, request, 200, now, headers=headers)

    def _on_ack(self, ack: Request, now: float) -> None:
        dialog_id = (ack.call_id, ack.to.tag or "", ack.from_.tag or "")
        session = self.sessions.get(dialog_id)
        if session is None or session.retransmit is None:
            return  # a late or stray ACK: nothing to confirm (§13.3.2.5 ignores them)
        if ack.cseq.number != session.retransmit[0].cseq.number:
            return
        session.retransmit = None
        session.ack_deadline = None
        if session.state is SessionState.ANSWERED:
            session.move("ack")
            self._events.append(ev.CallConfirmed(session, ack))
        elif session.state is SessionState.ENDING and session.bye is None:
            self._send_bye(session, now)  # the hangup that waited for this ACK (§15)

    def _on_cancel(self, txn: ServerTransaction, now: float) -> None:
        session = self._by_invite.get(txn)
        if session is None:
            return
        if session.reinvite_in is txn:  # a cancelled re-INVITE leaves the call as it was
            session.reinvite_in = None
            self._send(txn, txn.request, 487, now)
        elif session.can("cancel"):
            session.move("cancel")
            self._send_final_or_provisional(session, 487, now)
            self._end(session, EndReason.CANCELLED, now)

    # -- responses to our requests ------------------------------------------------

    def _on_response(self, txn: ClientTransaction, response: Response, now: float) -> None:
        session = self._by_client.get(txn)
        if session is None or response.status < 200:
            return
        if txn is session.bye:
            self._bye_done(session, now)
        elif txn is session.reinvite_out:
            self._on_reinvite_response(session, txn, response, now)

    def _on_reinvite_response(
        self, session: CallSession, txn: ClientTransaction, response: Response, now: float
    ) -> None:
        session.reinvite_out = None
        if response.status < 300:
            session.dialog.refresh_target(response)
            self._send_2xx_ack(session, response)
        elif response.status == 491:
            # §14.1: we do not own the Call-ID (the caller chose it): retry in 0-2 s
            retry_at = now + random.uniform(0.0, 2.0)
            session.reinvite_retry = (retry_at, txn.request.body)
            self._schedule(retry_at, "reinvite_retry", session)
        elif response.status in (408, 481):  # §14.1: the dialog is gone
            self.hangup(session, now)
        self._events.append(ev.ReinviteAnswered(session, response.status, response.body))

    def _on_stray_response(self, response: Response) -> None:
        if response.cseq.method != "INVITE" or response.status >= 300:
            return
        dialog_id = (response.call_id, response.from_.tag or "", response.to.tag or "")
        session = self.sessions.get(dialog_id)
        if session is not None:  # our ACK was lost: the 2xx came again (§13.2.2.4)
            self._send_2xx_ack(session, response)

    def _on_timeout(self, txn: ClientTransaction | ServerTransaction, now: float) -> None:
        session = self._by_client.get(txn) if isinstance(txn, ClientTransaction) else None
        if session is None:
            return
        if txn is session.bye:
            if session.end_reason in (None, EndReason.LOCAL_BYE):  # keep a root cause
                session.end_reason = EndReason.BYE_TIMEOUT
            self._bye_done(session, now)
        elif txn is session.reinvite_out:
            session.reinvite_out = None
            self.hangup(session, now)

    def _forget_transaction(self, txn: ClientTransaction | ServerTransaction) -> None:
        if isinstance(txn, ClientTransaction):
            self._by_client.pop(txn, None)
        else:
            self._by_invite.pop(txn, None)

    # -- session timers -------------------------------------------------------------

    def _schedule(self, when: float, kind: str, session: CallSession) -> None:
        heapq.heappush(self._timers, (when, next(self._seq), kind, session))

    def _start_2xx_retransmit(
        self, session: CallSession, response: Response, target: Target, now: float
    ) -> None:
        """§13.3.1.4: resend the 2xx at T1, 2*T1, ... T2 until the ACK; give up at 64*T1.

        Copies go to ``target``, where the first 2xx went (§18.2.2).  Over UDP
        the retransmission chain also watches the deadline, so only one timer
        entry per call is alive at a time (a parked entry keeps its whole call
        reachable, which the garbage collector then has to walk).
        """
        session.ack_deadline = now + 64 * self.t1
        session.retransmit_to = target
        if target.reliable:
            session.retransmit = (response, float("inf"), self.t1)
            self._schedule(session.ack_deadline, "retransmit", session)
        else:
            session.retransmit = (response, now + self.t1, self.t1)
            self._schedule(now + self.t1, "retransmit", session)

    def _on_retransmit(self, session: CallSession, now: float) -> None:
        if session.retransmit is None or session.ack_deadline is None:
            return
        if now >= session.ack_deadline:
            self._on_ack_timeout(session, now)
            return
        response, due, interval = session.retransmit
        if due > now:
            return  # superseded by a newer schedule
        self._outbox.append((response, session.retransmit_to or session.source))
        interval = min(2 * interval, self.t2)
        session.retransmit = (response, now + interval, interval)
        self._schedule(min(now + interval, session.ack_deadline), "retransmit", session)

    def _on_ack_timeout(self, session: CallSession, now: float) -> None:
        """§13.3.1.4: no ACK for a 2xx (the INVITE's or a re-INVITE's): end with a BYE."""
        session.retransmit = None
        session.ack_deadline = None
        if session.can("ack_timeout"):
            session.move("ack_timeout")
            session.end_reason = session.end_reason or EndReason.ACK_TIMEOUT
            self._send_bye(session, now)
        elif session.state is SessionState.ENDING and session.bye is None:
            self._send_bye(session, now)  # a hangup waiting for the ACK (§15)

    def _on_reinvite_retry(self, session: CallSession, now: float) -> None:
        if session.reinvite_retry is None or session.state is not SessionState.CONFIRMED:
            return
        _, body = session.reinvite_retry
        session.reinvite_retry = None
        if session.reinvite_in is None and session.reinvite_out is None:
            self.reinvite(session, body, now)

    # -- helpers --------------------------------------------------------------------

    def _send(
        self,
        txn: ServerTransaction,
        request: Request,
        status: int,
        now: float,
        headers: Iterable[tuple[str, HeaderValue]] = (),
    ) -> None:
        tag = None if request.to.tag else new_tag()
        response = make_response(request, status, to_tag=tag, headers=list(headers))
        self.transactions.send_response(txn, response, now)

    def _send_final_or_provisional(
        self,
        session: CallSession,
        status: int,
        now: float,
        *,
        reason: str | None = None,
        body: bytes = b"",
        content_type: str = "application/sdp",
        headers: Iterable[tuple[str, HeaderValue]] = (),
    ) -> Response:
        extra: list[tuple[str, HeaderValue]] = list(headers)
        if status < 300:  # dialog-creating: Record-Route copied in order (§12.1.1)
            extra += [("Record-Route", route) for route in session.invite.record_routes]
            extra += [("Contact", self._contact(session)), ("Allow", ALLOW)]
            self.sessions[session.dialog.id] = session
        extra.append(("Server", self.identity.product))
        if body:
            extra.append(("Content-Type", content_type))
        response = make_response(
            session.invite,
            status,
            reason,
            to_tag=session.dialog.local_tag,
            headers=extra,
            body=body,
        )
        if status >= 200:
            session.final_response = response
            self._by_invite.pop(session.transaction, None)  # no CANCEL can apply any more
        self.transactions.send_response(session.transaction, response, now)
        return response

    def _contact(self, session: CallSession) -> NameAddr:
        return self.identity.contact(session.source.transport)

    def _in_dialog_request(self, session: CallSession, method: str, body: bytes = b"") -> Request:
        via = self.identity.via(self._target(session).transport)
        return session.dialog.create_request(method, via, body=body)

    def _send_bye(self, session: CallSession, now: float) -> None:
        session.bye = self._send_request(session, self._in_dialog_request(session, "BYE"), now)

    def _send_request(
        self, session: CallSession, request: Request, now: float
    ) -> ClientTransaction:
        txn = self.transactions.send_request(request, self._target(session), now)
        self._by_client[txn] = session
        return txn

    def _send_2xx_ack(self, session: CallSession, response: Response) -> None:
        via = self.identity.via(self._target(session).transport)
        ack = session.dialog.create_request("ACK", via, cseq=response.cseq.number)
        self._outbox.append((ack, self._target(session)))

    def _target(self, session: CallSession) -> Target:
        """Where in-dialog requests go.

        Over TCP the caller's connection is reused.  Over UDP, with no route set
        and a caller that asked for symmetric responses (rport, RFC 3581), we
        answer to the address its packets come from, so callers behind NAT get
        our BYE; otherwise the first route or the remote target (§12.2.1.1).
        """
        source = session.source
        dialog = session.dialog
        if source.reliable or (not dialog.route_set and session.invite.via.wants_rport):
            return source
        uri = dialog.route_set[0].uri if dialog.route_set else dialog.remote_target
        host = uri.params.get("maddr") or uri.host
        return Target(uri.transport, host, uri.default_port)

    def _bye_done(self, session: CallSession, now: float) -> None:
        if session.can("bye_done"):
            session.move("bye_done")
            self._end(session, session.end_reason or EndReason.LOCAL_BYE, now)

    def _end(self, session: CallSession, reason: EndReason, now: float) -> None:
        if session.ended_at is not None:
            return
        session.state = SessionState.ENDED
        session.ended_at = now
        session.end_reason = session.end_reason or reason
        session.retransmit = None
        session.ack_deadline = None
        session.dialog.state = DialogState.TERMINATED
        if session.reinvite_in is not None:  # §15.1.2: pending requests still get answered
            txn, session.reinvite_in = session.reinvite_in, None
            self._by_invite.pop(txn, None)
            self._send(txn, txn.request, 487, now)
        self.sessions.pop(session.dialog.id, None)
        self._by_invite_key.pop(
            (session.call_id, session.invite.from_.tag or "", session.invite.cseq.number), None
        )
        self._events.append(ev.CallEnded(session))
