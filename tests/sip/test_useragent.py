"""The user-agent core (RFC 3261 §8.2, §12-§15) against a phone, in memory.

The "phone" is a bare :class:`TransactionLayer` the test drives by hand: the
UAC of the call's INVITE, and the UAS of our BYEs and re-INVITEs.  The
:class:`UserAgent` under test answers; the test plays its application, making
every decision (ring, answer, reject, hangup, answer_reinvite, reinvite) from
``ua.next_events()``.  Messages cross as bytes (``parse_message(bytes(m))``,
so serialization is exercised too), ``drop`` loses chosen ones as UDP would,
and a fake clock drives both sides' timers: nothing sleeps.  Every test ends
with :meth:`Harness.finish`, which runs all timers out and checks that no
session, index entry, transaction or timer is left behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

import pytest

from media.sip import call_events as ev
from media.sip import events as tev
from media.sip.dialog import Dialog, DialogState
from media.sip.errors import LocalProtocolError
from media.sip.headers import CSeq, Headers, HeaderValue, NameAddr, Via
from media.sip.ids import new_branch, new_call_id, new_tag
from media.sip.message import Message, Request, Response, make_response, parse_message
from media.sip.session import TRANSITIONS, CallSession, EndReason, SessionState
from media.sip.transaction import ClientTransaction, ServerTransaction, Target, TransactionLayer
from media.sip.transaction import build_cancel as build_cancel_request
from media.sip.uri import SipUri
from media.sip.useragent import ALLOW, LocalIdentity, UserAgent

T1, T2 = 0.5, 4.0
PHONE = Target("udp", "192.0.2.10", 5070)
SERVER = Target("udp", "198.51.100.20", 5060)


def _sdp(version: int, direction: str) -> bytes:
    return (
        f"v=0\r\no=phone 1 {version} IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\n"
        f"t=0 0\r\nm=audio 4000 RTP/AVP 0\r\na={direction}\r\n"
    ).encode()


OFFER = _sdp(1, "sendrecv")
HOLD = _sdp(2, "sendonly")
UNHOLD = _sdp(3, "sendrecv")
ANSWER = b"v=0\r\no=hotline 7 7 IN IP4 198.51.100.20\r\ns=-\r\nt=0 0\r\nm=audio 20000 RTP/AVP 0\r\n"
HELD_ANSWER = ANSWER.replace(b"RTP/AVP 0\r\n", b"RTP/AVP 0\r\na=recvonly\r\n")

E = TypeVar("E")
Drop = Callable[[Message], bool]


def never(_message: Message) -> bool:
    return False


def is_status(*statuses: int) -> Drop:
    return lambda m: isinstance(m, Response) and m.status in statuses


def invite_responses(message: Message) -> bool:
    """Every response to the INVITE is lost (the phone then gives up at Timer B)."""
    return isinstance(message, Response) and message.cseq.method == "INVITE"


def label(message: Message) -> int | str:
    return message.status if isinstance(message, Response) else message.method


# -- the phone's messages ------------------------------------------------------------------


def phone_contact(host: str = PHONE.host, port: int = PHONE.port) -> NameAddr:
    return NameAddr(SipUri(host, "alice", port=port))


def phone_invite(
    body: bytes = OFFER,
    *,
    transport: str = "UDP",
    via_host: str = PHONE.host,
    via_port: int = PHONE.port,
    rport: bool = True,
    contact: NameAddr | None = None,
    record_route: Iterable[NameAddr] = (),
    extra: Iterable[tuple[str, HeaderValue]] = (),
) -> Request:
    """The caller's INVITE (§8.1.1); ``record_route`` plays the proxies on the path."""
    via_params: dict[str, str | None] = {"branch": new_branch()}
    if rport:
        via_params["rport"] = None
    headers = Headers(
        [
            ("Via", Via(transport, via_host, via_port, via_params)),
            ("Max-Forwards", 70),
            ("From", NameAddr(SipUri("example.com", "alice"), "Alice", {"tag": new_tag()})),
            ("To", NameAddr(SipUri("example.org", "hotline"))),
            ("Call-ID", new_call_id("example.com")),
            ("CSeq", CSeq(1, "INVITE")),
            ("Contact", contact or phone_contact()),
        ]
    )
    for route in record_route:
        headers.add("Record-Route", route)
    for name, value in extra:
        headers.add(name, value)
    if body:
        headers.add("Content-Type", "application/sdp")
    return Request("INVITE", SipUri(SERVER.host, "hotline"), headers, body)


def out_of_dialog(method: str, extra: Iterable[tuple[str, HeaderValue]] = ()) -> Request:
    """A request outside any dialog (no To tag)."""
    request = phone_invite(b"", extra=extra)
    request.method = method
    request.headers.set("CSeq", CSeq(1, method))
    return request


# -- the harness ---------------------------------------------------------------------------


@dataclass
class Sent:
    """One message put on the wire: when, by whom, to where, and whether it was lost."""

    at: float
    sender: str
    message: Message
    target: Target
    dropped: bool


@dataclass
class Call:
    """An established call, seen from both sides."""

    session: CallSession
    dialog: Dialog  # the phone's dialog (§12.1.2), built from our 200
    invite: ClientTransaction
    ok: Response


@dataclass
class Harness:
    """The phone and the user agent, wired back to back.  See the module docstring."""

    ua: UserAgent
    phone: TransactionLayer
    phone_addr: Target  # where the phone's packets come from (after any NAT)
    server_addr: Target
    now: float = 0.0
    wire: list[Sent] = field(default_factory=list)
    phone_events: list[tev.Event] = field(default_factory=list)
    pending: list[ev.Event] = field(default_factory=list)

    # -- moving messages and time --------------------------------------------------------

    def deliver(self, drop: Drop = never) -> list[Sent]:
        """Move every queued message, both ways, until both sides are quiet."""
        moved: list[Sent] = []
        while batch := self._from_ua(drop) + self._from_phone(drop):
            moved += batch
        return moved

    def _from_ua(self, drop: Drop) -> list[Sent]:
        out = []
        for message, target in self.ua.messages_to_send():
            out.append(sent := Sent(self.now, "ua", message, target, drop(message)))
            if sent.dropped:
                continue
            copy = parse_message(bytes(message))
            if isinstance(copy, Request):
                events = self.phone.receive_request(copy, self.server_addr, self.now)
            else:
                events = self.phone.receive_response(copy, self.now)
            self.phone_events += events
        self.wire += out
        return out

    def _from_phone(self, drop: Drop) -> list[Sent]:
        out = []
        for message, target in self.phone.messages_to_send():
            out.append(sent := Sent(self.now, "phone", message, target, drop(message)))
            if not sent.dropped:
                self.ua.receive(parse_message(bytes(message)), self.phone_addr, self.now)
        self.wire += out
        return out

    def advance(self, until: float, drop: Drop = never) -> None:
        """Fire both sides' timers in deadline order up to ``until``, delivering as we go."""
        while True:
            timers = (self.ua.next_timer(), self.phone.next_timer())
            deadlines = [t for t in timers if t is not None]
            if not deadlines or min(deadlines) > until:
                break
            self.now = max(self.now, min(deadlines))
            self.ua.handle_timer(self.now)
            self.phone_events += self.phone.handle_timer(self.now)
            self.deliver(drop)
        self.now = max(self.now, until)

    def finish(self) -> None:
        """Run every timer out; then nothing may be left anywhere (the no-leak invariant)."""
        self.advance(self.now + 1000.0)
        ua = self.ua
        assert ua.sessions == {}
        assert ua._by_invite == {}
        assert ua._by_client == {}
        assert ua._by_invite_key == {}
        assert ua.next_timer() is None and ua._timers == []
        assert ua.transactions.is_idle and ua.transactions.transaction_count == 0
        assert self.phone.is_idle

    # -- the application's view ----------------------------------------------------------

    def take(self, kind: type[E]) -> list[E]:
        """The user agent's events of ``kind`` (others stay pending for a later take)."""
        self.pending += self.ua.next_events()
        found: list[E] = [e for e in self.pending if isinstance(e, kind)]
        self.pending = [e for e in self.pending if not isinstance(e, kind)]
        return found

    def take_one(self, kind: type[E]) -> E:
        found = self.take(kind)
        assert len(found) == 1, f"expected one {kind.__name__}, got {found}"
        return found[0]

    def assert_no_events(self) -> None:
        self.pending += self.ua.next_events()
        assert self.pending == []

    # -- what went over the wire ---------------------------------------------------------

    def sent(self, sender: str, what: int | str, *, since: float = 0.0) -> list[Sent]:
        return [
            s for s in self.wire
            if s.sender == sender and label(s.message) == what and s.at >= since
        ]

    def last(self, sender: str, what: int | str) -> Message:
        return self.sent(sender, what)[-1].message

    # -- the phone's side ----------------------------------------------------------------

    @property
    def via(self) -> Via:
        params: dict[str, str | None] = {"rport": None}
        return Via(self.phone_addr.transport.upper(), self.phone_addr.host, self.phone_addr.port,
                   params)

    def send(self, request: Request) -> ClientTransaction:
        return self.phone.send_request(request, self.server_addr, self.now)

    def responses(self, txn: ClientTransaction) -> list[Response]:
        return [
            e.response for e in self.phone_events
            if isinstance(e, tev.ResponseReceived) and e.transaction is txn
        ]

    def final(self, txn: ClientTransaction) -> Response:
        (final,) = [r for r in self.responses(txn) if r.status >= 200]
        return final

    def strays(self) -> list[Response]:
        return [e.response for e in self.phone_events if isinstance(e, tev.StrayResponse)]

    def requests(self, method: str) -> list[tuple[ServerTransaction, Request]]:
        """Requests the phone received from us, as (transaction, request)."""
        return [
            (e.transaction, e.request) for e in self.phone_events
            if isinstance(e, tev.RequestReceived) and e.request.method == method
        ]

    def reply(
        self,
        txn: ServerTransaction,
        status: int,
        body: bytes = b"",
        contact: NameAddr | None = None,
    ) -> Response:
        headers: list[tuple[str, HeaderValue]] = []
        if status < 300 and txn.request.method == "INVITE":
            headers.append(("Contact", contact or phone_contact()))
        if body:
            headers.append(("Content-Type", "application/sdp"))
        response = make_response(txn.request, status, headers=headers, body=body)
        self.phone.send_response(txn, response, self.now)
        return response

    def in_dialog(self, call: Call, method: str, body: bytes = b"") -> ClientTransaction:
        request = call.dialog.create_request(method, self.via, body=body)
        if method == "INVITE":
            request.headers.add("Contact", phone_contact())
        if body:
            request.headers.add("Content-Type", "application/sdp")
        return self.send(request)

    def ack(self, call: Call, cseq: int | None = None, body: bytes = b"") -> Request:
        """The phone's ACK for a 2xx (§13.2.2.4): outside any transaction."""
        number = call.dialog.local_cseq if cseq is None else cseq
        ack = call.dialog.create_request("ACK", self.via, cseq=number, body=body)
        if body:
            ack.headers.add("Content-Type", "application/sdp")
        self.phone.send_stateless(ack, self.server_addr)
        return ack


def harness(transport: str = "udp", phone_addr: Target = PHONE) -> Harness:
    reliable = transport != "udp"
    ua = UserAgent(
        TransactionLayer(t1=T1, t2=T2), LocalIdentity(SERVER.host, SERVER.port), t1=T1, t2=T2
    )
    return Harness(
        ua,
        TransactionLayer(t1=T1, t2=T2),
        Target(transport, phone_addr.host, phone_addr.port, "phone-conn" if reliable else None),
        Target(transport, SERVER.host, SERVER.port, "server-conn" if reliable else None),
    )


def incoming(
    h: Harness, invite: Request, drop: Drop = never
) -> tuple[ClientTransaction, CallSession]:
    txn = h.send(invite)
    h.deliver(drop)
    return txn, h.take_one(ev.IncomingCall).session


def connect(h: Harness, invite: Request | None = None, *, ring: bool = True) -> Call:
    """INVITE -> 100/180/200 -> ACK: an established call."""
    if invite is None:
        transport = h.phone_addr.transport.upper()
        invite = phone_invite(transport=transport, via_host=h.phone_addr.host,
                              via_port=h.phone_addr.port)
    txn, session = incoming(h, invite)
    if ring:
        h.ua.ring(session, h.now)
    h.ua.answer(session, ANSWER, h.now)
    h.deliver()
    ok = h.final(txn)
    call = Call(session, Dialog.from_uac(txn.request, ok), txn, ok)
    h.ack(call)
    h.deliver()
    h.take_one(ev.CallConfirmed)
    return call


def caller_hangs_up(h: Harness, call: Call) -> None:
    bye = h.in_dialog(call, "BYE")
    h.deliver()
    assert h.final(bye).status == 200
    ended = h.take_one(ev.CallEnded)
    assert ended.session is call.session


# -- a call's life -------------------------------------------------------------------------


def test_invite_ring_answer_ack_confirms_the_call() -> None:
    h = harness()
    invite = phone_invite()
    txn = h.send(invite)
    h.deliver()
    session = h.take_one(ev.IncomingCall).session
    assert session.state is SessionState.INCOMING and session.invite.call_id == invite.call_id
    assert h.ua.sessions == {}  # no dialog before a response with a To tag (§12.1)
    h.ua.ring(session, h.now)
    h.now = 1.0
    h.ua.answer(session, ANSWER, h.now)
    h.deliver()
    trying, ringing, ok = h.responses(txn)
    assert [trying.status, ringing.status, ok.status] == [100, 180, 200]
    assert trying.to.tag is None  # §8.2.6.2
    assert ringing.to.tag == ok.to.tag == session.dialog.local_tag
    assert ok.body == ANSWER and ok.content_type == "application/sdp"
    assert ok.contacts[0].uri == SipUri(SERVER.host, "hotline", port=SERVER.port)
    assert "INVITE" in str(ok.headers.get("Allow"))
    assert session.state is SessionState.ANSWERED and session.answered_at == 1.0
    assert h.ua.sessions == {session.dialog.id: session}
    call = Call(session, Dialog.from_uac(txn.request, ok), txn, ok)
    h.ack(call)
    h.deliver()
    confirmed = h.take_one(ev.CallConfirmed)
    assert confirmed.session is session and confirmed.ack.method == "ACK"
    assert session.state is SessionState.CONFIRMED and session.is_up
    assert session.dialog.state is DialogState.CONFIRMED
    assert session.retransmit is None and session.ack_deadline is None
    caller_hangs_up(h, call)
    h.finish()


def test_caller_bye_ends_the_call_with_remote_bye() -> None:
    h = harness()
    call = connect(h)
    h.now = 5.0
    bye = h.in_dialog(call, "BYE")
    h.deliver()
    ok = h.final(bye)
    assert ok.status == 200 and ok.to.tag == call.ok.to.tag
    ended = h.take_one(ev.CallEnded)
    session = ended.session
    assert session.end_reason is EndReason.REMOTE_BYE and session.ended_at == 5.0
    assert session.state is SessionState.ENDED
    assert session.dialog.state is DialogState.TERMINATED
    assert h.ua.sessions == {}
    h.phone.send_stateless(bye.request, h.server_addr)  # a copy of the BYE (lost 200)
    h.deliver()
    assert [s.at for s in h.sent("ua", 200)][-2:] == [5.0, 5.0]  # its transaction answers again
    h.assert_no_events()
    h.finish()


def test_bye_for_an_ended_call_gets_481() -> None:
    h = harness()
    call = connect(h)
    caller_hangs_up(h, call)
    again = h.in_dialog(call, "BYE")
    h.deliver()
    assert h.final(again).status == 481
    h.assert_no_events()
    h.finish()


def test_our_bye_goes_to_the_source_address_with_rport() -> None:
    """RFC 3581: a caller behind NAT (private Via, rport) gets our BYE at its public address."""
    nat = Target("udp", "203.0.113.7", 40000)
    h = harness(phone_addr=nat)
    invite = phone_invite(via_host="10.0.0.5", via_port=5060, rport=True,
                          contact=phone_contact("10.0.0.5", 5060))
    call = connect(h, invite)
    assert h.sent("ua", 200)[0].target == nat  # responses: received + rport
    h.ua.hangup(call.session, h.now)
    h.deliver()
    (bye,) = h.sent("ua", "BYE")
    assert bye.target == nat
    assert isinstance(bye.message, Request) and bye.message.uri == invite.contacts[0].uri
    assert bye.message.to.tag == invite.from_.tag and bye.message.from_.tag == call.ok.to.tag
    assert bye.message.cseq == CSeq(1, "BYE")
    (txn, _), = h.requests("BYE")
    h.reply(txn, 200)
    h.deliver()
    ended = h.take_one(ev.CallEnded)
    assert ended.session.end_reason is EndReason.LOCAL_BYE
    h.finish()


def test_our_bye_without_rport_goes_to_the_contact() -> None:
    h = harness()
    contact = phone_contact("192.0.2.99", 5080)
    call = connect(h, phone_invite(rport=False, contact=contact))
    h.ua.hangup(call.session, h.now)
    h.deliver()
    (bye,) = h.sent("ua", "BYE")
    assert bye.target == Target("udp", "192.0.2.99", 5080)
    assert isinstance(bye.message, Request) and bye.message.uri == contact.uri
    assert bye.message.routes == []
    (txn, _), = h.requests("BYE")
    h.reply(txn, 200)
    h.deliver()
    assert h.take_one(ev.CallEnded).session.end_reason is EndReason.LOCAL_BYE
    h.finish()


def test_our_bye_follows_a_loose_route_set() -> None:
    """§12.1.1: the route set is the Record-Route list in order; §12.2.1.1 loose routing."""
    p1 = NameAddr(SipUri("p1.example.net", port=5062, params={"lr": None}))
    p2 = NameAddr(SipUri("p2.example.net", params={"lr": None}))
    h = harness()
    invite = phone_invite(record_route=[p1, p2])
    call = connect(h, invite)
    # §12.1.1: the UAS copies Record-Route into its dialog-creating responses
    assert [str(r) for r in h.last("ua", 180).record_routes] == [str(p1), str(p2)]
    assert [str(r) for r in call.ok.record_routes] == [str(p1), str(p2)]
    assert [str(r) for r in call.dialog.route_set] == [str(p2), str(p1)]  # the phone's view
    h.ua.hangup(call.session, h.now)
    h.deliver()
    (bye,) = h.sent("ua", "BYE")
    assert bye.target == Target("udp", "p1.example.net", 5062)
    assert isinstance(bye.message, Request)
    assert bye.message.uri == invite.contacts[0].uri
    assert [str(r) for r in bye.message.routes] == [str(p1), str(p2)]
    (txn, _), = h.requests("BYE")
    h.reply(txn, 200)
    h.deliver()
    h.take_one(ev.CallEnded)
    h.finish()


def test_our_bye_through_a_strict_router() -> None:
    """§12.2.1.1: a strict first route becomes the Request-URI, the remote target goes last."""
    strict = NameAddr(SipUri("strict.example.net", port=5070, params={"transport": "udp"}))
    loose = NameAddr(SipUri("p2.example.net", params={"lr": None}))
    h = harness()
    invite = phone_invite(record_route=[strict, loose])
    call = connect(h, invite)
    h.ua.hangup(call.session, h.now)
    h.deliver()
    (bye,) = h.sent("ua", "BYE")
    assert bye.target == Target("udp", "strict.example.net", 5070)
    assert isinstance(bye.message, Request)
    assert bye.message.uri == strict.uri
    assert [str(r) for r in bye.message.routes] == [str(loose), f"<{invite.contacts[0].uri}>"]
    (txn, _), = h.requests("BYE")
    h.reply(txn, 200)
    h.deliver()
    h.take_one(ev.CallEnded)
    h.finish()


def test_phone_bye_through_the_route_set_of_our_200_reaches_us() -> None:
    """The phone builds its route set from our 200's Record-Route (§12.1.2) and uses it."""
    p1 = NameAddr(SipUri("p1.example.net", params={"lr": None}))
    h = harness()
    call = connect(h, phone_invite(record_route=[p1]))
    bye = h.in_dialog(call, "BYE")
    request = bye.request
    assert [str(r) for r in request.routes] == [str(p1)]
    assert request.uri == call.ok.contacts[0].uri
    h.deliver()
    assert h.final(bye).status == 200
    h.take_one(ev.CallEnded)
    h.finish()


# -- 2xx retransmission (§13.3.1.4) ----------------------------------------------------------


def test_2xx_retransmitted_at_t1_doubling_up_to_t2_until_the_ack() -> None:
    h = harness()
    txn, session = incoming(h, phone_invite())
    h.ua.answer(session, ANSWER, h.now)
    lose_200 = is_status(200)
    h.deliver(lose_200)
    h.advance(20.0, lose_200)
    times = [s.at for s in h.sent("ua", 200)]
    assert times == [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5]
    assert all(s.dropped for s in h.sent("ua", 200))
    assert h.take(ev.IncomingCall) == []  # no second call from the INVITE's copies
    h.advance(23.5)  # this copy gets through
    ok = h.final(txn)
    call = Call(session, Dialog.from_uac(txn.request, ok), txn, ok)
    h.ack(call)
    h.deliver()
    h.take_one(ev.CallConfirmed)
    h.advance(40.0)
    assert [s.at for s in h.sent("ua", 200)][-1] == 23.5  # the ACK stopped them
    assert session.retransmit is None
    caller_hangs_up(h, call)
    h.finish()


def test_2xx_retransmissions_go_where_the_first_2xx_went() -> None:
    """§18.2.2: without rport a response goes to the Via port, not the source port."""
    h = harness()  # packets come from port 5070
    invite = phone_invite(via_port=5099, rport=False)
    txn, session = incoming(h, invite)
    h.ua.answer(session, ANSWER, h.now)
    h.deliver(is_status(200))
    h.advance(2.0, is_status(200))
    targets = {s.target for s in h.sent("ua", 200)}
    assert targets == {Target("udp", PHONE.host, 5099)}
    h.advance(3.5)
    call = Call(session, Dialog.from_uac(txn.request, h.final(txn)), txn, h.final(txn))
    h.ack(call)
    h.deliver()
    h.take_one(ev.CallConfirmed)
    caller_hangs_up(h, call)
    h.finish()


def test_lost_200_invite_copies_absorbed_and_the_200_resent() -> None:
    h = harness()
    lose_first = lambda m: h.now == 0.0 and isinstance(m, Response)  # noqa: E731
    txn = h.send(phone_invite())
    h.deliver(lose_first)  # the 100 Trying is lost: the phone keeps retransmitting
    session = h.take_one(ev.IncomingCall).session
    h.ua.answer(session, ANSWER, h.now)
    h.deliver(lose_first)  # and so is the 200
    h.advance(0.5)
    assert [s.at for s in h.sent("phone", "INVITE")] == [0.0, 0.5]  # Timer A
    assert [s.at for s in h.sent("ua", 200)] == [0.0, 0.5]  # our own timer, not the copy
    assert h.take(ev.IncomingCall) == []
    ok = h.final(txn)
    call = Call(session, Dialog.from_uac(txn.request, ok), txn, ok)
    h.ack(call)
    h.deliver()
    h.take_one(ev.CallConfirmed)
    assert len(h.ua.sessions) == 1
    caller_hangs_up(h, call)
    h.finish()


def test_invite_copy_after_the_transaction_ended_gets_the_200_again() -> None:
    """After Timer L (RFC 6026) a late copy of the INVITE is no new call: the 200 again."""
    h = harness()
    call = connect(h)
    h.advance(40.0)  # Timer L ended the INVITE server transaction
    assert h.ua.transactions.transaction_count == 0
    h.phone.send_stateless(call.invite.request, h.server_addr)
    h.deliver()
    assert h.take(ev.IncomingCall) == []
    (again,) = [r for r in h.strays() if r.status >= 200]
    assert again.status == 200 and again.to.tag == call.ok.to.tag
    caller_hangs_up(h, call)
    h.finish()


@pytest.mark.parametrize("bye_answered", [True, False])
def test_no_ack_within_64_t1_ends_the_call_with_a_bye(bye_answered: bool) -> None:
    h = harness()
    _, session = incoming(h, phone_invite(), invite_responses)
    h.ua.answer(session, ANSWER, h.now)
    h.deliver(invite_responses)
    h.advance(31.9, invite_responses)
    assert h.sent("ua", "BYE") == []
    assert [s.at for s in h.sent("ua", 200)][-1] == 31.5
    h.advance(32.0, invite_responses)
    (bye,) = h.sent("ua", "BYE")
    assert bye.at == 32.0
    assert session.state is SessionState.ENDING
    if bye_answered:
        (txn, _), = h.requests("BYE")
        h.reply(txn, 481)  # the phone never saw the dialog
        h.deliver()
    else:  # the phone is gone: our BYE times out too
        h.advance(32.0 + 64 * T1, lambda m: isinstance(m, Response))
    ended = h.take_one(ev.CallEnded)
    assert ended.session.end_reason is EndReason.ACK_TIMEOUT
    assert h.take(ev.CallConfirmed) == []
    if not bye_answered:  # the phone's late 481 finds nothing to do
        (txn, _), = h.requests("BYE")
        h.reply(txn, 481)
        h.deliver()
        h.assert_no_events()
    h.finish()


# -- CANCEL (§9.2) ---------------------------------------------------------------------------


@pytest.mark.parametrize("ring", [True, False])
def test_cancel_before_the_answer_gets_200_and_487(ring: bool) -> None:
    h = harness()
    txn, session = incoming(h, phone_invite())
    if ring:
        h.ua.ring(session, h.now)
        h.deliver()
    h.now = 2.0
    cancel = h.phone.cancel(txn, h.now)
    assert cancel is not None
    h.deliver()
    assert h.final(cancel).status == 200
    final = h.final(txn)
    assert final.status == 487
    if ring:
        assert final.to.tag == h.last("ua", 180).to.tag
    assert [label(s.message) for s in h.wire if s.sender == "phone"][-1] == "ACK"
    ended = h.take_one(ev.CallEnded)
    assert ended.session is session and ended.session.end_reason is EndReason.CANCELLED
    assert ended.session.ended_at == 2.0
    with pytest.raises(LocalProtocolError):
        h.ua.answer(session, ANSWER, h.now)
    h.finish()


def test_cancel_after_the_200_has_no_effect() -> None:
    h = harness()
    txn, session = incoming(h, phone_invite())
    h.ua.answer(session, ANSWER, h.now)
    h.deliver()
    ok = h.final(txn)
    cancel = h.send(build_cancel_request(txn.request))
    h.deliver()
    assert h.final(cancel).status == 200  # §9.2: the CANCEL itself is answered
    assert session.state is SessionState.ANSWERED
    assert h.take(ev.CallEnded) == []
    call = Call(session, Dialog.from_uac(txn.request, ok), txn, ok)
    h.ack(call)
    h.deliver()
    h.take_one(ev.CallConfirmed)
    caller_hangs_up(h, call)
    h.finish()


# -- re-INVITE (§14) -------------------------------------------------------------------------


def their_reinvite(
    h: Harness, call: Call, body: bytes
) -> tuple[ClientTransaction, ev.ReinviteReceived]:
    txn = h.in_dialog(call, "INVITE", body)
    h.deliver()
    received = h.take_one(ev.ReinviteReceived)
    assert received.session is call.session and received.request.body == body
    return txn, received


def test_reinvite_hold_and_unhold() -> None:
    h = harness()
    call = connect(h)
    for offer, reply in ((HOLD, HELD_ANSWER), (UNHOLD, ANSWER)):
        txn, received = their_reinvite(h, call, offer)
        assert received.request.content_type == "application/sdp"
        h.ua.answer_reinvite(call.session, received.transaction, 200, h.now, body=reply)
        h.deliver()
        ok = h.final(txn)
        assert ok.status == 200 and ok.body == reply and ok.contacts
        h.ack(call)
        h.deliver()
        assert call.session.retransmit is None
        h.now += 1.0
    assert h.take(ev.CallConfirmed) == []  # a re-INVITE's ACK confirms nothing new
    caller_hangs_up(h, call)
    h.finish()


def test_reinvite_2xx_retransmitted_until_its_ack() -> None:
    h = harness()
    call = connect(h)
    h.now = start = 1.0
    _, received = their_reinvite(h, call, HOLD)
    h.ua.answer_reinvite(call.session, received.transaction, 200, h.now, body=HELD_ANSWER)
    h.deliver(is_status(200))
    h.advance(start + 2.0, is_status(200))
    assert [s.at - start for s in h.sent("ua", 200, since=start)] == [0.0, 0.5, 1.5]
    h.advance(start + 3.5)
    h.ack(call)
    h.deliver()
    h.advance(start + 20.0)
    assert [s.at - start for s in h.sent("ua", 200, since=start)] == [0.0, 0.5, 1.5, 3.5]
    caller_hangs_up(h, call)
    h.finish()


def test_reinvite_2xx_never_acked_ends_the_call_with_a_bye() -> None:
    """§13.3.1.4 holds for a re-INVITE's 2xx too: no ACK in 64*T1, the session ends."""
    h = harness()
    call = connect(h)
    h.now = start = 1.0
    h.in_dialog(call, "INVITE", HOLD)
    h.deliver(invite_responses)
    received = h.take_one(ev.ReinviteReceived)
    h.ua.answer_reinvite(call.session, received.transaction, 200, h.now, body=HELD_ANSWER)
    h.advance(start + 64 * T1, invite_responses)
    (bye,) = h.sent("ua", "BYE")
    assert bye.at == start + 64 * T1
    ((bye_txn, _),) = h.requests("BYE")
    h.reply(bye_txn, 200)
    h.deliver()
    assert h.take_one(ev.CallEnded).session.end_reason is EndReason.ACK_TIMEOUT
    h.finish()


def test_rejected_reinvite_keeps_the_call() -> None:
    h = harness()
    call = connect(h)
    txn, received = their_reinvite(h, call, HOLD)
    h.ua.answer_reinvite(call.session, received.transaction, 488, h.now)
    h.deliver()
    assert h.final(txn).status == 488
    assert call.session.state is SessionState.CONFIRMED
    caller_hangs_up(h, call)
    h.finish()


def test_reinvite_refreshes_the_remote_target() -> None:
    h = harness()
    call = connect(h, phone_invite(rport=False))
    moved = phone_contact("192.0.2.77", 5090)
    txn = call.dialog.create_request("INVITE", h.via, body=HOLD)
    txn.headers.add("Contact", moved)
    txn.headers.add("Content-Type", "application/sdp")
    h.send(txn)
    h.deliver()
    received = h.take_one(ev.ReinviteReceived)
    h.ua.answer_reinvite(call.session, received.transaction, 200, h.now, body=HELD_ANSWER)
    h.deliver()
    h.ack(call)
    h.deliver()
    h.ua.hangup(call.session, h.now)
    h.deliver()
    (bye,) = h.sent("ua", "BYE")
    assert bye.target == Target("udp", "192.0.2.77", 5090)
    assert isinstance(bye.message, Request) and bye.message.uri == moved.uri
    (bye_txn, _), = h.requests("BYE")
    h.reply(bye_txn, 200)
    h.deliver()
    h.take_one(ev.CallEnded)
    h.finish()


def test_our_reinvite_2xx_is_acked_and_a_retransmitted_2xx_acked_again() -> None:
    h = harness()
    call = connect(h)
    h.ua.reinvite(call.session, HOLD, h.now)
    h.deliver()
    ((txn, request),) = h.requests("INVITE")
    assert request.body == HOLD and request.contacts and request.cseq == CSeq(1, "INVITE")
    assert request.to.tag == call.invite.request.from_.tag
    ok = h.reply(txn, 200, body=HELD_ANSWER)
    h.deliver()
    answered = h.take_one(ev.ReinviteAnswered)
    assert (answered.status, answered.body) == (200, HELD_ANSWER)
    (ack,) = h.sent("ua", "ACK")
    assert isinstance(ack.message, Request) and ack.message.cseq == CSeq(1, "ACK")
    h.now += 0.5
    h.phone.send_response(txn, ok, h.now)  # the phone's own 2xx retransmission
    h.deliver()
    acks = h.sent("ua", "ACK")
    assert len(acks) == 2 and acks[1].message.cseq == CSeq(1, "ACK")
    assert call.session.reinvite_out is None
    caller_hangs_up(h, call)
    h.finish()


def test_glare_their_reinvite_gets_491_and_ours_is_retried_within_2s() -> None:
    h = harness()
    call = connect(h)
    h.ua.reinvite(call.session, HOLD, h.now)
    h.deliver()
    ((ours, _),) = h.requests("INVITE")
    theirs = h.in_dialog(call, "INVITE", HOLD)
    h.deliver()
    assert h.final(theirs).status == 491  # §14.2
    assert h.take(ev.ReinviteReceived) == []
    h.now = 1.0
    h.reply(ours, 491)
    h.deliver()
    assert h.take_one(ev.ReinviteAnswered).status == 491
    h.advance(3.0)
    invites = h.requests("INVITE")
    assert len(invites) == 2
    (retry,) = h.sent("ua", "INVITE", since=1.0)
    assert 1.0 <= retry.at <= 3.0  # §14.1: 0-2 s when we do not own the Call-ID
    retried = invites[1][1]
    assert retried.body == HOLD and retried.cseq == CSeq(2, "INVITE")
    h.reply(invites[1][0], 200, body=HELD_ANSWER)
    h.deliver()
    assert h.take_one(ev.ReinviteAnswered).status == 200
    caller_hangs_up(h, call)
    h.finish()


def test_reinvite_while_their_previous_is_pending_gets_500_with_retry_after() -> None:
    h = harness()
    call = connect(h)
    _, first = their_reinvite(h, call, HOLD)
    second = h.in_dialog(call, "INVITE", UNHOLD)
    h.deliver()
    refused = h.final(second)
    assert refused.status == 500 and refused.headers.get("Retry-After") is not None  # §14.2
    h.ua.answer_reinvite(call.session, first.transaction, 200, h.now, body=HELD_ANSWER)
    h.deliver()
    h.ack(call, cseq=first.request.cseq.number)
    h.deliver()
    caller_hangs_up(h, call)
    h.finish()


def test_our_reinvite_refused_while_theirs_is_pending() -> None:
    h = harness()
    call = connect(h)
    _, received = their_reinvite(h, call, HOLD)
    with pytest.raises(LocalProtocolError):
        h.ua.reinvite(call.session, UNHOLD, h.now)
    h.ua.answer_reinvite(call.session, received.transaction, 488, h.now)
    h.deliver()
    caller_hangs_up(h, call)
    h.finish()


def test_our_reinvite_answered_481_ends_the_call() -> None:
    h = harness()
    call = connect(h)
    h.ua.reinvite(call.session, HOLD, h.now)
    h.deliver()
    ((txn, _),) = h.requests("INVITE")
    h.reply(txn, 481)
    h.deliver()
    assert h.take_one(ev.ReinviteAnswered).status == 481
    ((bye, _),) = h.requests("BYE")  # §12.2.1.2: the dialog is gone
    h.reply(bye, 481)
    h.deliver()
    h.take_one(ev.CallEnded)
    h.finish()


def test_cancelled_reinvite_leaves_the_call_up() -> None:
    h = harness()
    call = connect(h)
    txn, received = their_reinvite(h, call, HOLD)
    cancel = h.phone.cancel(txn, h.now)
    assert cancel is not None
    h.deliver()
    assert h.final(txn).status == 487
    assert call.session.reinvite_in is None
    # the application's late answer is too late: nothing is sent, nothing breaks
    h.ua.answer_reinvite(call.session, received.transaction, 200, h.now, body=HELD_ANSWER)
    h.deliver()
    assert call.session.retransmit is None
    assert call.session.state is SessionState.CONFIRMED
    caller_hangs_up(h, call)
    h.finish()


# -- requests the user agent answers itself --------------------------------------------------


def test_in_dialog_request_for_an_unknown_dialog_gets_481() -> None:
    h = harness()
    for method in ("BYE", "INFO", "INVITE", "OPTIONS"):
        request = out_of_dialog(method)
        request.headers.set("To", request.to.with_tag("no-such-dialog"))
        txn = h.send(request)
        h.deliver()
        assert h.final(txn).status == 481, method
    for method in ("BYE", "INFO"):  # no To tag: cannot be in any dialog
        txn = h.send(out_of_dialog(method))
        h.deliver()
        assert h.final(txn).status == 481
    h.assert_no_events()
    h.finish()


def test_in_dialog_cseq_lower_than_the_last_gets_500() -> None:
    h = harness()
    call = connect(h)
    info = h.in_dialog(call, "INFO")
    h.deliver()
    assert h.final(info).status == 200
    h.take_one(ev.InfoReceived)
    call.dialog.local_cseq = 0  # the next request goes out with CSeq 1, below the INFO's 2
    late = h.in_dialog(call, "INFO")
    h.deliver()
    refused = h.final(late)
    assert refused.status == 500 and "CSeq" in refused.reason  # §12.2.2
    assert h.take(ev.InfoReceived) == []
    assert call.session.state is SessionState.CONFIRMED
    call.dialog.local_cseq = 5
    caller_hangs_up(h, call)
    h.finish()


@pytest.mark.parametrize("method", ["INVITE", "OPTIONS", "REGISTER"])
def test_require_of_an_unknown_extension_gets_420_naming_it(method: str) -> None:
    h = harness()
    txn = h.send(out_of_dialog(method, extra=[("Require", "foo")]))
    h.deliver()
    refused = h.final(txn)
    assert refused.status == 420 and "foo" in refused.reason  # §8.2.2.3
    assert refused.headers.get("Unsupported") == "foo"
    h.assert_no_events()
    h.finish()


@pytest.mark.parametrize("method", ["SUBSCRIBE", "MESSAGE", "PUBLISH"])
def test_unknown_method_gets_405_with_allow(method: str) -> None:
    h = harness()
    txn = h.send(out_of_dialog(method))
    h.deliver()
    refused = h.final(txn)
    assert refused.status == 405 and refused.headers.get("Allow") == ALLOW  # §8.2.1
    call = connect(h)
    in_dialog = h.in_dialog(call, method)
    h.deliver()
    assert h.final(in_dialog).status == 405
    caller_hangs_up(h, call)
    h.finish()


def test_options_outside_a_dialog_gets_200_with_allow_and_accept() -> None:
    h = harness()
    txn = h.send(out_of_dialog("OPTIONS"))
    h.deliver()
    ok = h.final(txn)
    assert ok.status == 200 and ok.to.tag  # §11.2
    assert ok.headers.get("Allow") == ALLOW
    assert ok.headers.get("Accept") == "application/sdp"
    h.assert_no_events()
    call = connect(h)
    in_dialog = h.in_dialog(call, "OPTIONS")
    h.deliver()
    assert h.final(in_dialog).status == 200
    caller_hangs_up(h, call)
    h.finish()


def test_not_accepting_gets_503_with_retry_after() -> None:
    h = harness()
    h.ua.accepting = False
    txn = h.send(phone_invite())
    h.deliver()
    refused = h.final(txn)
    assert refused.status == 503 and refused.headers.get("Retry-After") is not None
    h.assert_no_events()
    options = h.send(out_of_dialog("OPTIONS"))  # other requests are still answered
    h.deliver()
    assert h.final(options).status == 200
    h.finish()


def test_info_in_a_dialog_gets_200_and_info_received() -> None:
    h = harness()
    call = connect(h)
    request = call.dialog.create_request("INFO", h.via, body=b"Signal=5\r\nDuration=160\r\n")
    request.headers.add("Content-Type", "application/dtmf-relay")
    txn = h.send(request)
    h.deliver()
    assert h.final(txn).status == 200
    info = h.take_one(ev.InfoReceived)
    assert info.session is call.session and info.request.body.startswith(b"Signal=5")
    assert info.request.content_type == "application/dtmf-relay"
    caller_hangs_up(h, call)
    h.finish()


def test_register_goes_to_the_application() -> None:
    h = harness()
    txn = h.send(out_of_dialog("REGISTER"))
    h.deliver()
    received = h.take_one(ev.RegisterReceived)
    assert received.request.method == "REGISTER"
    h.ua.respond(received.transaction, make_response(received.request, 200, to_tag="r"), h.now)
    h.deliver()
    assert h.final(txn).status == 200
    h.finish()


# -- offer/answer variants -------------------------------------------------------------------


def test_offerless_invite_gets_our_offer_and_the_answer_comes_in_the_ack() -> None:
    h = harness()
    txn, session = incoming(h, phone_invite(b""))
    assert session.invite.body == b""
    h.ua.answer(session, ANSWER, h.now)  # here: our offer
    h.deliver()
    ok = h.final(txn)
    assert ok.body == ANSWER
    call = Call(session, Dialog.from_uac(txn.request, ok), txn, ok)
    h.ack(call, body=OFFER)  # the caller's answer (§13.2.1)
    h.deliver()
    confirmed = h.take_one(ev.CallConfirmed)
    assert confirmed.ack.body == OFFER and confirmed.ack.content_type == "application/sdp"
    caller_hangs_up(h, call)
    h.finish()


def test_reject_sends_the_final_response_and_ends_the_call() -> None:
    h = harness()
    txn, session = incoming(h, phone_invite())
    h.ua.ring(session, h.now)
    with pytest.raises(LocalProtocolError):
        h.ua.reject(session, 200, h.now)
    h.ua.reject(session, 486, h.now, headers=[("Retry-After", "30")])
    h.deliver()
    busy = h.final(txn)
    assert busy.status == 486 and busy.headers.get("Retry-After") == "30"
    assert "Contact" not in busy.headers
    ended = h.take_one(ev.CallEnded)
    assert ended.session.end_reason is EndReason.REJECTED
    assert h.sent("phone", "ACK")  # the transaction layers ACK the 486 (§17.1.1.3)
    h.finish()


# -- ending the call from our side -------------------------------------------------------------


def test_hangup_before_the_ack_waits_for_it() -> None:
    """§15: the callee must not send a BYE before the ACK (or its timeout)."""
    h = harness()
    txn, session = incoming(h, phone_invite())
    h.ua.answer(session, ANSWER, h.now)
    h.deliver()
    h.ua.hangup(session, h.now)
    h.deliver()
    assert h.sent("ua", "BYE") == []
    ok = h.final(txn)
    call = Call(session, Dialog.from_uac(txn.request, ok), txn, ok)
    h.now = 0.2
    h.ack(call)
    h.deliver()
    (bye,) = h.sent("ua", "BYE")
    assert bye.at == 0.2
    ((bye_txn, _),) = h.requests("BYE")
    h.reply(bye_txn, 200)
    h.deliver()
    ended = h.take_one(ev.CallEnded)
    assert ended.session.end_reason is EndReason.LOCAL_BYE
    assert h.take(ev.CallConfirmed) == []
    h.finish()


def test_hangup_before_the_ack_sends_the_bye_at_the_ack_timeout() -> None:
    h = harness()
    _, session = incoming(h, phone_invite(), invite_responses)
    h.ua.answer(session, ANSWER, h.now)
    h.deliver(invite_responses)
    h.ua.hangup(session, h.now)
    h.advance(31.9, invite_responses)
    assert h.sent("ua", "BYE") == [] and len(h.sent("ua", 200)) == 11  # still resent
    h.advance(32.0, invite_responses)
    (bye,) = h.sent("ua", "BYE")
    assert bye.at == 32.0
    ((bye_txn, _),) = h.requests("BYE")
    h.reply(bye_txn, 481)
    h.deliver()
    assert h.take_one(ev.CallEnded).session.end_reason is EndReason.LOCAL_BYE
    h.finish()


def test_our_bye_unanswered_ends_with_bye_timeout() -> None:
    h = harness()
    call = connect(h)
    h.ua.hangup(call.session, h.now)
    h.deliver(lambda m: label(m) == "BYE")
    start = h.now
    h.advance(start + 64 * T1, lambda m: label(m) == "BYE")
    assert len(h.sent("ua", "BYE")) > 1  # Timer E retransmissions
    ended = h.take_one(ev.CallEnded)
    assert ended.session.end_reason is EndReason.BYE_TIMEOUT
    assert ended.session.ended_at == start + 64 * T1
    h.finish()


def test_shutdown_reason_survives_the_hangup() -> None:
    h = harness()
    call = connect(h)
    call.session.end_reason = EndReason.SHUTDOWN
    h.ua.hangup(call.session, h.now, status=503)
    h.deliver()
    ((bye, _),) = h.requests("BYE")
    h.reply(bye, 200)
    h.deliver()
    assert h.take_one(ev.CallEnded).session.end_reason is EndReason.SHUTDOWN
    h.finish()


def test_hangup_while_ringing_rejects() -> None:
    h = harness()
    txn, session = incoming(h, phone_invite())
    h.ua.ring(session, h.now)
    h.ua.hangup(session, h.now, status=503)
    h.deliver()
    assert h.final(txn).status == 503
    assert h.take_one(ev.CallEnded).session.end_reason is EndReason.REJECTED
    h.finish()


def test_bye_crossing_our_bye() -> None:
    h = harness()
    call = connect(h)
    h.ua.hangup(call.session, h.now)
    bye = h.in_dialog(call, "BYE")
    h.deliver()
    assert h.final(bye).status == 200
    ended = h.take_one(ev.CallEnded)
    assert ended.session.end_reason is EndReason.LOCAL_BYE
    ((ours, _),) = h.requests("BYE")
    h.reply(ours, 481)  # the phone's dialog is already gone
    h.deliver()
    h.assert_no_events()
    h.finish()


def test_bye_in_an_early_dialog_ends_the_call_and_the_invite_gets_487() -> None:
    """§15.1.2: the UAS answers the BYE, and the pending INVITE with 487."""
    h = harness()
    txn, session = incoming(h, phone_invite())
    h.ua.ring(session, h.now)
    h.deliver()
    ringing = h.responses(txn)[-1]
    early = Dialog.from_uac(txn.request, ringing)
    bye = h.send(early.create_request("BYE", h.via))
    h.deliver()
    assert h.final(bye).status == 200
    assert h.final(txn).status == 487
    ended = h.take_one(ev.CallEnded)
    assert ended.session.end_reason is EndReason.REMOTE_BYE
    h.finish()


def test_bye_while_their_reinvite_is_pending_answers_it_487() -> None:
    """§15.1.2: pending requests of the dialog still get a response."""
    h = harness()
    call = connect(h)
    reinvite, received = their_reinvite(h, call, HOLD)
    caller_hangs_up(h, call)
    assert h.final(reinvite).status == 487
    # the application's late answer is ignored
    h.ua.answer_reinvite(call.session, received.transaction, 200, h.now, body=HELD_ANSWER)
    h.deliver()
    h.finish()


# -- reliable transports ---------------------------------------------------------------------


def test_tcp_no_2xx_retransmissions_and_in_dialog_requests_reuse_the_connection() -> None:
    h = harness("tcp")
    invite = phone_invite(transport="TCP")
    txn, session = incoming(h, invite)
    h.ua.answer(session, ANSWER, h.now)
    h.deliver()
    ok = h.final(txn)
    assert ok.contacts[0].uri.params.get("transport") == "tcp"
    h.advance(20.0)
    assert len(h.sent("ua", 200)) == 1  # TCP retransmits for us (§13.3.1.4)
    call = Call(session, Dialog.from_uac(txn.request, ok), txn, ok)
    h.ack(call)
    h.deliver()
    h.take_one(ev.CallConfirmed)
    h.ua.hangup(session, h.now)
    h.deliver()
    (bye,) = h.sent("ua", "BYE")
    assert bye.target == h.phone_addr and bye.target.connection == "phone-conn"
    assert bye.message.via.transport == "TCP"
    ((bye_txn, _),) = h.requests("BYE")
    h.reply(bye_txn, 200)
    h.deliver()
    h.take_one(ev.CallEnded)
    h.finish()


def test_tcp_no_ack_still_times_out_at_64_t1() -> None:
    h = harness("tcp")
    _, session = incoming(h, phone_invite(transport="TCP"), invite_responses)
    h.ua.answer(session, ANSWER, h.now)
    h.deliver(invite_responses)
    h.advance(40.0, invite_responses)
    (bye,) = h.sent("ua", "BYE")
    assert bye.at == 32.0 and len(h.sent("ua", 200)) == 1
    ((bye_txn, _),) = h.requests("BYE")
    h.reply(bye_txn, 481)
    h.deliver()
    assert h.take_one(ev.CallEnded).session.end_reason is EndReason.ACK_TIMEOUT
    h.finish()


# -- the state table -------------------------------------------------------------------------


def test_transitions_cover_every_state_and_ended_is_final() -> None:
    assert set(TRANSITIONS) == set(SessionState)
    assert TRANSITIONS[SessionState.ENDED] == {}
    for state, moves in TRANSITIONS.items():
        for action, target in moves.items():
            assert target in SessionState, (state, action)
    ended_by_bye = {s for s, moves in TRANSITIONS.items() if "bye_received" in moves}
    assert ended_by_bye == {
        SessionState.EARLY, SessionState.ANSWERED, SessionState.CONFIRMED, SessionState.ENDING
    }


def test_session_move_refuses_what_the_table_forbids() -> None:
    h = harness()
    txn, session = incoming(h, phone_invite())
    with pytest.raises(LocalProtocolError):
        session.move("ack")
    assert session.can("ring") and not session.can("bye_done")
    h.ua.reject(session, 480, h.now)
    h.deliver()
    assert h.final(txn).status == 480
    h.take_one(ev.CallEnded)
    h.finish()
