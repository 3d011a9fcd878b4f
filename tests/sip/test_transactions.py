"""The transaction layer (RFC 3261 §17) driven in memory by a fake clock.

Two :class:`TransactionLayer` peers exchange message objects (copied, so the
sides share no mutable state) through :func:`uac_and_uas`'s ``transfer``;
dropping chosen messages simulates UDP loss.  Nothing sleeps: the clock only
moves when a test moves it, and ``handle_timer`` fires what is due.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from media.sip import events as ev
from media.sip.errors import LocalProtocolError, RemoteProtocolError
from media.sip.headers import MAGIC_COOKIE, CSeq, Headers, NameAddr, Via
from media.sip.ids import new_branch, new_call_id, new_tag
from media.sip.message import Message, Request, Response, make_response
from media.sip.transaction import (
    ClientState,
    ClientTransaction,
    ServerState,
    ServerTransaction,
    Target,
    TransactionLayer,
    response_target,
    stamp_via,
)
from media.sip.transactions.server import base_key
from media.sip.uri import SipUri

UAC_HOST, UAC_PORT = "192.0.2.10", 5070
UAS_HOST, UAS_PORT = "198.51.100.20", 5060
T1, T2, T4 = 0.5, 4.0, 5.0

# -- message builders ------------------------------------------------------------------


def make_request(
    method: str,
    *,
    branch: str | None = None,
    transport: str = "UDP",
    via_host: str = UAC_HOST,
    via_port: int | None = UAC_PORT,
    rport: bool = False,
    call_id: str | None = None,
    from_tag: str | None = None,
    to_tag: str | None = None,
    cseq: int = 1,
    extra: list[tuple[str, object]] | None = None,
) -> Request:
    """A minimal valid request (§8.1.1) with a fresh branch unless one is given."""
    via_params: dict[str, str | None] = {"branch": branch or new_branch()}
    if rport:
        via_params["rport"] = None
    to_params: dict[str, str | None] = {} if to_tag is None else {"tag": to_tag}
    headers = Headers(
        [
            ("Via", Via(transport, via_host, via_port, via_params)),
            ("Max-Forwards", 70),
            ("From", NameAddr(SipUri("example.com", "alice"), "Alice",
                              {"tag": from_tag or new_tag()})),
            ("To", NameAddr(SipUri("example.org", "bob"), None, to_params)),
            ("Call-ID", call_id or new_call_id("example.com")),
            ("CSeq", CSeq(cseq, method)),
        ]
    )
    for name, value in extra or ():
        headers.add(name, value)  # type: ignore[arg-type]
    return Request(method, SipUri(UAS_HOST, "bob", port=UAS_PORT), headers)


def respond(request: Request, status: int) -> Response:
    """A response with a To tag (none on a 100, §8.2.6.2)."""
    return make_response(request, status, to_tag=None if status == 100 else "uas-tag")


# -- the fake clock and the in-memory two-peer harness -------------------------------


@dataclass
class FakeClock:
    now: float = 0.0


@dataclass
class Peer:
    """One side: its layer and the address the other side sees it at."""

    layer: TransactionLayer
    address: Target
    events: list[ev.Event] = field(default_factory=list)

    def drain(self) -> list[Message]:
        return [message for message, _ in self.layer.messages_to_send()]


@dataclass
class Harness:
    uac: Peer
    uas: Peer
    clock: FakeClock

    def other(self, peer: Peer) -> Peer:
        return self.uas if peer is self.uac else self.uac

    def transfer(
        self, sender: Peer, drop: Callable[[Message], bool] = lambda m: False
    ) -> list[ev.Event]:
        """Deliver every message ``sender`` has queued to the other peer; its events."""
        receiver = self.other(sender)
        events: list[ev.Event] = []
        for message, _target in sender.layer.messages_to_send():
            if drop(message):
                continue
            message = copy.deepcopy(message)
            if isinstance(message, Request):
                events += receiver.layer.receive_request(message, sender.address, self.clock.now)
            else:
                events += receiver.layer.receive_response(message, self.clock.now)
        receiver.events += events
        return events

    def advance(self, until: float) -> list[tuple[float, Peer, list[ev.Event]]]:
        """Fire both sides' timers in deadline order up to ``until`` (messages stay queued)."""
        fired = []
        while True:
            due = [(p.layer.next_timer(), i, p) for i, p in enumerate((self.uac, self.uas))]
            pending = [(t, i, p) for t, i, p in due if t is not None and t <= until]
            if not pending:
                break
            deadline, _, peer = min(pending, key=lambda d: (d[0], d[1]))
            self.clock.now = deadline
            events = peer.layer.handle_timer(deadline)
            peer.events += events
            fired.append((deadline, peer, events))
        self.clock.now = until
        return fired

    def finish(self) -> None:
        """Let every timer run out; both layers must then be empty (no leaks)."""
        self.advance(self.clock.now + 1000.0)
        self.uac.drain()
        self.uas.drain()
        assert self.uac.layer.is_idle and self.uas.layer.is_idle
        assert self.uac.layer.transaction_count == self.uas.layer.transaction_count == 0


def uac_and_uas(transport: str = "udp") -> Harness:
    """Two layers wired back to back over ``transport`` (``tcp``: with connection handles)."""
    reliable = transport != "udp"
    uac = Peer(TransactionLayer(t1=T1, t2=T2, t4=T4),
               Target(transport, UAC_HOST, UAC_PORT, "uac-conn" if reliable else None))
    uas = Peer(TransactionLayer(t1=T1, t2=T2, t4=T4),
               Target(transport, UAS_HOST, UAS_PORT, "uas-conn" if reliable else None))
    return Harness(uac, uas, FakeClock())


def start(h: Harness, method: str, **kwargs: object) -> tuple[ClientTransaction, Request]:
    transport = "TCP" if h.uac.address.reliable else "UDP"
    request = make_request(method, transport=transport, **kwargs)  # type: ignore[arg-type]
    return h.uac.layer.send_request(request, h.uas.address, h.clock.now), request


def server_transaction(events: list[ev.Event]) -> ServerTransaction:
    (received,) = [e for e in events if isinstance(e, ev.RequestReceived)]
    return received.transaction


def sent_times(fired: list[tuple[float, Peer, list[ev.Event]]], peer: Peer) -> list[float]:
    return [t for t, p, _ in fired if p is peer]


def kinds(events: list[ev.Event]) -> list[str]:
    return [type(e).__name__ for e in events]


def statuses(messages: list[Message]) -> list[int | str]:
    return [m.status if isinstance(m, Response) else m.method for m in messages]


# -- ids -------------------------------------------------------------------------------


def test_new_branch_has_magic_cookie_and_is_fresh() -> None:
    branches = {new_branch() for _ in range(100)}
    assert len(branches) == 100
    for branch in branches:
        assert branch.startswith(MAGIC_COOKIE) and len(branch) >= len(MAGIC_COOKIE) + 16
    assert new_tag() != new_tag()
    assert new_call_id("host.example").endswith("@host.example")


# -- client timers (§17.1.1.2, §17.1.2.2) ---------------------------------------------


def test_timer_a_doubles_without_cap_and_timer_b_times_out_on_udp() -> None:
    h = uac_and_uas()
    tx, _ = start(h, "INVITE")
    assert h.uac.drain()[0].method == "INVITE"  # type: ignore[union-attr]
    retransmits: list[float] = []
    while (deadline := h.uac.layer.next_timer()) is not None:
        events = h.uac.layer.handle_timer(deadline)
        if h.uac.drain():
            retransmits.append(deadline)
        if events:
            break
    assert retransmits == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]  # Timer A: T1, 2T1, 4T1, ...
    assert deadline == 64 * T1  # Timer B
    assert kinds(events) == ["TransactionTimedOut", "TransactionTerminated"]
    assert events[0] == ev.TransactionTimedOut(tx, "B")
    assert tx.state is ClientState.TERMINATED
    assert h.uac.layer.is_idle


def test_timer_a_does_not_run_on_tcp() -> None:
    h = uac_and_uas("tcp")
    start(h, "INVITE")
    h.uac.drain()
    fired = h.advance(100.0)
    assert [(t, kinds(e)) for t, _, e in fired] == [
        (32.0, ["TransactionTimedOut", "TransactionTerminated"])
    ]
    assert h.uac.drain() == []
    assert h.uac.layer.is_idle


def test_timer_e_doubles_up_to_t2_and_timer_f_times_out() -> None:
    h = uac_and_uas()
    tx, _ = start(h, "OPTIONS")
    h.uac.drain()
    fired = h.advance(100.0)
    times = sent_times(fired, h.uac)
    assert times[:-1] == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert times[-1] == 32.0  # Timer F = 64*T1
    assert fired[-1][2] == [ev.TransactionTimedOut(tx, "F"), ev.TransactionTerminated(tx)]
    assert len(h.uac.drain()) == 10
    h.finish()


def test_timer_e_runs_at_t2_once_proceeding() -> None:
    h = uac_and_uas()
    _, request = start(h, "OPTIONS")
    h.uac.drain()
    h.uac.layer.receive_response(respond(request, 180), 0.2)
    fired = h.advance(10.0)
    assert sent_times(fired, h.uac) == [0.5, 4.5, 8.5]


def test_timer_e_and_f_on_tcp_only_timeout() -> None:
    h = uac_and_uas("tcp")
    start(h, "OPTIONS")
    h.uac.drain()
    fired = h.advance(100.0)
    assert sent_times(fired, h.uac) == [32.0]
    assert h.uac.drain() == []


@pytest.mark.parametrize(("transport", "timer_d"), [("udp", 32.0), ("tcp", 0.0)])
def test_timer_d_absorbs_final_response_copies(transport: str, timer_d: float) -> None:
    h = uac_and_uas(transport)
    tx, request = start(h, "INVITE")
    h.uac.drain()
    failure = respond(request, 486)
    events = h.uac.layer.receive_response(copy.deepcopy(failure), 1.0)
    assert events == [ev.ResponseReceived(tx, events[0].response)]  # type: ignore[union-attr]
    assert tx.state is ClientState.COMPLETED
    (ack,) = h.uac.drain()
    assert h.uac.layer.next_timer() == 1.0 + timer_d
    if transport == "udp":  # a copy of the 486: ACKed again, not passed up
        assert h.uac.layer.receive_response(copy.deepcopy(failure), 2.0) == []
        assert h.uac.drain() == [ack]
    fired = h.advance(1.0 + timer_d)
    assert fired[-1][2] == [ev.TransactionTerminated(tx)]
    assert h.uac.layer.is_idle


def test_ack_for_failure_follows_17_1_1_3() -> None:
    h = uac_and_uas()
    route = NameAddr(SipUri("proxy.example", params={"lr": None}))
    tx, invite = start(h, "INVITE", extra=[("Route", route), ("Contact", "<sip:a@x>")])
    h.uac.drain()
    failure = respond(invite, 603)
    h.uac.layer.receive_response(failure, 0.1)
    (ack,) = h.uac.drain()
    assert isinstance(ack, Request) and ack.method == "ACK"
    assert ack.uri == invite.uri and ack.call_id == invite.call_id
    assert ack.from_ is invite.from_ and ack.to.tag == "uas-tag"
    assert ack.cseq == CSeq(invite.cseq.number, "ACK")
    assert ack.vias == [invite.via] and ack.routes == [route]
    assert "Contact" not in ack.headers
    assert tx.ack is ack


@pytest.mark.parametrize(("transport", "timer_k"), [("udp", T4), ("tcp", 0.0)])
def test_timer_k(transport: str, timer_k: float) -> None:
    h = uac_and_uas(transport)
    tx, request = start(h, "BYE", to_tag="t")
    h.uac.drain()
    ok = respond(request, 200)
    assert kinds(h.uac.layer.receive_response(ok, 2.0)) == ["ResponseReceived"]
    assert h.uac.layer.receive_response(copy.deepcopy(ok), 2.5) == []  # absorbed
    assert h.uac.layer.next_timer() == 2.0 + timer_k
    assert h.uac.layer.handle_timer(2.0 + timer_k) == [ev.TransactionTerminated(tx)]
    assert h.uac.layer.is_idle


def test_two_xx_ends_invite_client_and_copies_are_stray() -> None:
    h = uac_and_uas()
    tx, request = start(h, "INVITE")
    ok = respond(request, 200)
    events = h.uac.layer.receive_response(ok, 1.0)
    assert events == [ev.ResponseReceived(tx, ok), ev.TransactionTerminated(tx)]
    assert h.uac.layer.transaction_count == 0
    again = copy.deepcopy(ok)
    assert h.uac.layer.receive_response(again, 1.5) == [ev.StrayResponse(again)]
    stray = respond(make_request("OPTIONS"), 200)
    assert h.uac.layer.receive_response(stray, 2.0) == [ev.StrayResponse(stray)]


# -- server side (§17.2) -----------------------------------------------------------------


def test_invite_gets_100_trying_at_once_with_timestamp() -> None:
    h = uac_and_uas()
    _, invite = start(h, "INVITE", extra=[("Timestamp", "54.21")])
    events = h.transfer(h.uac)
    tx = server_transaction(events)
    assert kinds(events) == ["RequestReceived"] and tx.state is ServerState.PROCEEDING
    (trying,) = h.uas.drain()
    assert isinstance(trying, Response) and trying.status == 100
    assert trying.headers.get("Timestamp") == "54.21" and trying.to.tag is None
    assert tx.request.call_id == invite.call_id


def test_non_invite_gets_no_100() -> None:
    h = uac_and_uas()
    start(h, "OPTIONS")
    tx = server_transaction(h.transfer(h.uac))
    assert tx.state is ServerState.TRYING and h.uas.drain() == []


def test_retransmitted_invite_is_absorbed_and_last_response_resent() -> None:
    h = uac_and_uas()
    _, invite = start(h, "INVITE")
    h.uac.drain()
    tx = server_transaction(h.uas.layer.receive_request(copy.deepcopy(invite), h.uac.address, 0))
    assert statuses(h.uas.drain()) == [100]
    assert h.uas.layer.receive_request(copy.deepcopy(invite), h.uac.address, 0.5) == []
    assert statuses(h.uas.drain()) == [100]
    h.uas.layer.send_response(tx, respond(tx.request, 180), 0.6)
    h.uas.drain()
    assert h.uas.layer.receive_request(copy.deepcopy(invite), h.uac.address, 1.5) == []
    assert statuses(h.uas.drain()) == [180]
    assert h.uas.layer.transaction_count == 1


def test_retransmitted_non_invite_absorbed_while_trying() -> None:
    h = uac_and_uas()
    _, request = start(h, "REGISTER")
    h.uac.drain()
    tx = server_transaction(h.uas.layer.receive_request(copy.deepcopy(request), h.uac.address, 0))
    assert h.uas.layer.receive_request(copy.deepcopy(request), h.uac.address, 0.5) == []
    assert h.uas.drain() == []  # Trying: no response to repeat yet
    h.uas.layer.send_response(tx, respond(tx.request, 100), 0.6)
    assert tx.state is ServerState.PROCEEDING
    h.uas.layer.receive_request(copy.deepcopy(request), h.uac.address, 1.5)
    assert statuses(h.uas.drain()) == [100, 100]


def test_timer_g_doubles_to_t2_and_timer_h_times_out_without_ack() -> None:
    h = uac_and_uas()
    start(h, "INVITE")
    tx = server_transaction(h.transfer(h.uac))
    h.uas.layer.send_response(tx, respond(tx.request, 486), 0.0)
    assert statuses(h.uas.drain()) == [100, 486]
    assert tx.state is ServerState.COMPLETED
    fired = [f for f in h.advance(100.0) if f[1] is h.uas]
    times = [t for t, _, _ in fired]
    assert times[:-1] == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert times[-1] == 32.0  # Timer H
    assert fired[-1][2] == [ev.TransactionTimedOut(tx, "H"), ev.TransactionTerminated(tx)]
    assert statuses(h.uas.drain()) == [486] * 10
    assert h.uas.layer.is_idle


def test_timer_g_does_not_run_on_tcp() -> None:
    h = uac_and_uas("tcp")
    start(h, "INVITE")
    tx = server_transaction(h.transfer(h.uac))
    h.uas.layer.send_response(tx, respond(tx.request, 486), 0.0)
    h.uas.drain()
    fired = [f for f in h.advance(100.0) if f[1] is h.uas]
    assert [t for t, _, _ in fired] == [32.0] and h.uas.drain() == []


@pytest.mark.parametrize(("transport", "timer_i"), [("udp", T4), ("tcp", 0.0)])
def test_ack_for_failure_is_absorbed_and_timer_i(transport: str, timer_i: float) -> None:
    h = uac_and_uas(transport)
    client, _ = start(h, "INVITE")
    tx = server_transaction(h.transfer(h.uac))
    h.transfer(h.uas)
    h.uas.layer.send_response(tx, respond(tx.request, 404), 1.0)
    h.clock.now = 1.0
    uac_events = h.transfer(h.uas)
    assert kinds(uac_events[-1:]) == ["ResponseReceived"]
    assert client.state is ClientState.COMPLETED
    assert h.transfer(h.uac) == []  # the ACK: absorbed by the server transaction
    assert tx.state is ServerState.CONFIRMED
    ack = client.ack
    assert ack is not None
    assert h.uas.layer.receive_request(copy.deepcopy(ack), h.uac.address, 1.1) == []
    assert h.uas.layer.next_timer() == 1.0 + timer_i
    assert h.uas.layer.handle_timer(1.0 + timer_i) == [ev.TransactionTerminated(tx)]
    h.finish()


@pytest.mark.parametrize(("transport", "timer_j"), [("udp", 64 * T1), ("tcp", 0.0)])
def test_timer_j_absorbs_request_copies(transport: str, timer_j: float) -> None:
    h = uac_and_uas(transport)
    _, request = start(h, "OPTIONS")
    tx = server_transaction(h.transfer(h.uac))
    h.uas.layer.send_response(tx, respond(tx.request, 200), 0.0)
    assert tx.state is ServerState.COMPLETED
    h.uas.drain()
    if transport == "udp":
        assert h.uas.layer.receive_request(copy.deepcopy(request), h.uac.address, 1.0) == []
        assert statuses(h.uas.drain()) == [200]
    assert h.uas.layer.next_timer() == timer_j
    assert h.uas.layer.handle_timer(timer_j) == [ev.TransactionTerminated(tx)]
    assert h.uas.layer.is_idle


def test_second_final_response_is_discarded() -> None:
    h = uac_and_uas()
    start(h, "OPTIONS")
    tx = server_transaction(h.transfer(h.uac))
    h.uas.layer.send_response(tx, respond(tx.request, 200), 0.0)
    h.uas.layer.send_response(tx, respond(tx.request, 500), 0.0)
    assert statuses(h.uas.drain()) == [200]
    assert tx.last_response is not None and tx.last_response.status == 200


def test_response_for_another_request_is_local_error() -> None:
    h = uac_and_uas()
    start(h, "OPTIONS")
    tx = server_transaction(h.transfer(h.uac))
    with pytest.raises(LocalProtocolError):
        h.uas.layer.send_response(tx, respond(make_request("BYE"), 200), 0.0)


def test_two_xx_accepted_state_absorbs_invite_copies_then_timer_l() -> None:
    """RFC 6026 §7.1: after a 2xx, INVITE copies are absorbed for 64*T1."""
    h = uac_and_uas()
    _, invite = start(h, "INVITE")
    tx = server_transaction(h.transfer(h.uac))
    ok = respond(tx.request, 200)
    h.uas.layer.send_response(tx, ok, 0.1)
    assert tx.state is ServerState.ACCEPTED
    assert statuses(h.uas.drain()) == [100, 200]
    assert h.uas.layer.receive_request(copy.deepcopy(invite), h.uac.address, 0.5) == []
    assert h.uas.drain() == []  # the TU retransmits the 2xx itself (§13.3.1.4)
    h.uas.layer.send_response(tx, ok, 0.6)  # ...through the transaction
    assert h.uas.drain() == [ok]
    assert h.uas.layer.next_timer() == pytest.approx(0.1 + 64 * T1)
    assert h.uas.layer.handle_timer(0.1 + 64 * T1) == [ev.TransactionTerminated(tx)]
    h.uas.layer.send_response(tx, ok, 40.0)  # terminated: discarded
    assert h.uas.drain() == []


def test_ack_for_2xx_is_surfaced() -> None:
    h = uac_and_uas()
    client, invite = start(h, "INVITE")
    tx = server_transaction(h.transfer(h.uac))
    h.uas.layer.send_response(tx, respond(tx.request, 200), 0.1)
    events = h.transfer(h.uas)
    ok = events[-2].response  # type: ignore[union-attr]
    assert kinds(events) == ["ResponseReceived", "ResponseReceived", "TransactionTerminated"]
    # §13.2.2.4: the TU builds the 2xx ACK (new branch) and sends it without a transaction
    ack = make_request("ACK", call_id=invite.call_id, from_tag=invite.from_.tag,
                       to_tag=ok.to.tag, cseq=invite.cseq.number)
    h.uac.layer.send_stateless(ack, client.target)
    events = h.transfer(h.uac)
    assert kinds(events) == ["AckReceived"]
    assert events[0].source == h.uac.address  # type: ignore[union-attr]
    assert events[0].transaction is None  # type: ignore[union-attr]
    assert tx.state is ServerState.ACCEPTED
    h.finish()


def test_ack_with_the_invite_branch_in_accepted_is_passed_up() -> None:
    h = uac_and_uas()
    _, invite = start(h, "INVITE")
    tx = server_transaction(h.transfer(h.uac))
    h.uas.layer.send_response(tx, respond(tx.request, 200), 0.1)
    ack = make_request("ACK", branch=invite.via.branch, call_id=invite.call_id,
                       from_tag=invite.from_.tag, to_tag="uas-tag")
    events = h.uas.layer.receive_request(ack, h.uac.address, 0.2)
    assert events == [ev.AckReceived(ack, h.uac.address, tx)]


def test_ack_without_transaction_and_duplicate_acks() -> None:
    layer = TransactionLayer()
    ack = make_request("ACK", to_tag="x")
    source = Target("udp", UAC_HOST, UAC_PORT)
    assert kinds(layer.receive_request(copy.deepcopy(ack), source, 0)) == ["AckReceived"]
    assert kinds(layer.receive_request(copy.deepcopy(ack), source, 0)) == ["AckReceived"]
    assert layer.is_idle


# -- CANCEL (§9) --------------------------------------------------------------------


def test_cancel_before_final_response() -> None:
    h = uac_and_uas()
    client, _ = start(h, "INVITE")
    tx = server_transaction(h.transfer(h.uac))
    h.transfer(h.uas)  # 100 Trying: the client is Proceeding
    assert client.state is ClientState.PROCEEDING
    cancel_tx = h.uac.layer.cancel(client, 0.0)
    assert cancel_tx is not None and cancel_tx.request.method == "CANCEL"
    assert h.uac.layer.cancel(client, 0.0) is cancel_tx  # idempotent
    events = h.transfer(h.uac)
    assert kinds(events) == ["CancelReceived"]
    assert events[0].transaction is tx  # type: ignore[union-attr]
    assert statuses(h.uas.layer.messages_to_send()[0][:1]) == [200]  # type: ignore[arg-type]
    h.uas.layer.send_response(tx, respond(tx.request, 487), 0.1)
    h.clock.now = 0.1
    events = h.transfer(h.uas)
    assert [type(e).__name__ for e in events] == ["ResponseReceived"]
    assert events[0].response.status == 487  # type: ignore[union-attr]
    h.finish()


def test_cancelled_invite_without_final_response_ends_after_64_t1() -> None:
    h = uac_and_uas()
    client, invite = start(h, "INVITE")
    h.uac.layer.receive_response(respond(invite, 180), 1.0)
    assert h.uac.layer.next_timer() is None  # Proceeding: the TU decides how long to wait
    cancel_tx = h.uac.layer.cancel(client, 2.0)
    assert cancel_tx is not None
    h.uac.layer.receive_response(respond(cancel_tx.request, 200), 2.1)
    h.uac.layer.receive_response(respond(invite, 180), 3.0)  # still no final response
    fired = h.advance(100.0)
    assert (2.0 + 64 * T1, h.uac, [ev.TransactionTimedOut(client, "cancel"),
                                   ev.TransactionTerminated(client)]) in fired
    h.finish()


def test_final_response_after_cancel_stops_the_cancel_timer() -> None:
    h = uac_and_uas()
    client, invite = start(h, "INVITE")
    h.uac.layer.receive_response(respond(invite, 180), 1.0)
    h.uac.layer.cancel(client, 2.0)
    h.uac.layer.receive_response(respond(invite, 487), 2.5)
    fired = h.advance(100.0)
    timeouts = [e for _, _, events in fired for e in events
                if isinstance(e, ev.TransactionTimedOut)]
    assert [e.timer for e in timeouts] == ["F"]  # only the unanswered CANCEL's own
    assert client.state is ClientState.TERMINATED
    h.finish()


def test_cancel_follows_9_1() -> None:
    h = uac_and_uas()
    route = NameAddr(SipUri("proxy.example", params={"lr": None}))
    client, invite = start(h, "INVITE", extra=[("Route", route)])
    h.uac.layer.receive_response(respond(invite, 180), 0.1)
    cancel = h.uac.layer.build_cancel(client)
    assert cancel.uri == invite.uri and cancel.call_id == invite.call_id
    assert cancel.to is invite.to and cancel.from_ is invite.from_
    assert cancel.cseq == CSeq(invite.cseq.number, "CANCEL")
    assert cancel.vias == [invite.via] and cancel.routes == [route]


def test_cancel_before_provisional_waits_for_it() -> None:
    h = uac_and_uas()
    client, invite = start(h, "INVITE")
    h.uac.drain()
    with pytest.raises(LocalProtocolError):
        h.uac.layer.build_cancel(client)  # §9.1: not before a provisional response
    assert h.uac.layer.cancel(client, 0.1) is None
    assert h.uac.drain() == []
    h.uac.layer.receive_response(respond(invite, 100), 0.2)
    (cancel,) = h.uac.drain()
    assert isinstance(cancel, Request) and cancel.method == "CANCEL"


def test_cancel_after_final_response() -> None:
    h = uac_and_uas()
    client, invite = start(h, "INVITE")
    tx = server_transaction(h.transfer(h.uac))
    h.uas.layer.send_response(tx, respond(tx.request, 486), 0.0)
    h.uas.drain()
    cancel = make_request("CANCEL", branch=invite.via.branch, call_id=invite.call_id,
                          from_tag=invite.from_.tag)
    assert h.uas.layer.receive_request(cancel, h.uac.address, 0.1) == []  # no CancelReceived
    assert statuses(h.uas.drain()) == [200]
    h.uac.layer.receive_response(respond(invite, 486), 0.2)
    assert h.uac.layer.cancel(client, 0.3) is None  # nothing left to cancel
    with pytest.raises(LocalProtocolError):
        h.uac.layer.build_cancel(client)


def test_cancel_without_invite_gets_481_and_retransmission_repeats_it() -> None:
    layer = TransactionLayer()
    source = Target("udp", UAC_HOST, UAC_PORT)
    cancel = make_request("CANCEL")
    assert layer.receive_request(copy.deepcopy(cancel), source, 0) == []
    ((response, target),) = layer.messages_to_send()
    assert isinstance(response, Response) and response.status == 481
    assert response.to.tag is not None
    assert target == source
    assert layer.receive_request(copy.deepcopy(cancel), source, 0.5) == []
    assert statuses([m for m, _ in layer.messages_to_send()]) == [481]
    assert layer.handle_timer(32.0) == []  # internal transactions report nothing
    assert layer.is_idle


def test_cancel_reuses_the_to_tag_of_the_invite_responses() -> None:
    h = uac_and_uas()
    _, invite = start(h, "INVITE")
    tx = server_transaction(h.transfer(h.uac))
    h.uas.layer.send_response(tx, respond(tx.request, 180), 0.0)
    h.uas.drain()
    cancel = make_request("CANCEL", branch=invite.via.branch, call_id=invite.call_id,
                          from_tag=invite.from_.tag)
    h.uas.layer.receive_request(cancel, h.uac.address, 0.1)
    (ok,) = h.uas.drain()
    assert isinstance(ok, Response) and ok.to.tag == "uas-tag"


# -- merged requests (§8.2.2.2) ------------------------------------------------------


def test_merged_request_gets_482_without_event() -> None:
    layer = TransactionLayer()
    source = Target("udp", UAC_HOST, UAC_PORT)
    first = make_request("INVITE", call_id="c1", from_tag="f1")
    assert kinds(layer.receive_request(first, source, 0)) == ["RequestReceived"]
    layer.messages_to_send()
    fork = make_request("INVITE", call_id="c1", from_tag="f1", via_host="203.0.113.5")
    assert layer.receive_request(copy.deepcopy(fork), source, 0.1) == []
    ((loop, _),) = layer.messages_to_send()
    assert isinstance(loop, Response) and loop.status == 482
    assert layer.receive_request(copy.deepcopy(fork), source, 0.2) == []  # its copy: 482 again
    assert statuses([m for m, _ in layer.messages_to_send()]) == [482]
    other = make_request("INVITE", call_id="c1", from_tag="f1", cseq=2)
    assert kinds(layer.receive_request(other, source, 0.3)) == ["RequestReceived"]
    in_dialog = make_request("INVITE", call_id="c1", from_tag="f1", to_tag="t", cseq=1)
    assert kinds(layer.receive_request(in_dialog, source, 0.4)) == ["RequestReceived"]


# -- response routing (§18.2, RFC 3581) ------------------------------------------------


def test_stamp_via_adds_received_only_when_host_differs() -> None:
    same = make_request("OPTIONS", via_host=UAC_HOST)
    stamp_via(same, Target("udp", UAC_HOST, 6000))
    assert same.via.received is None and same.via.rport is None
    named = make_request("OPTIONS", via_host="pc33.example.com")
    stamp_via(named, Target("udp", UAC_HOST, 6000))
    assert named.via.received == UAC_HOST
    ipv6 = make_request("OPTIONS", via_host="2001:db8::1")
    stamp_via(ipv6, Target("udp", "2001:0db8:0:0::1", 6000))
    assert ipv6.via.received is None


def test_stamp_via_rport_keeps_header_order() -> None:
    request = make_request("OPTIONS", rport=True)
    request.headers.add("Via", Via("UDP", "proxy.example", 5060, {"branch": new_branch()}))
    stamp_via(request, Target("udp", UAC_HOST, 40000))
    assert request.via.received == UAC_HOST and request.via.rport == 40000  # RFC 3581 §4
    assert [name for name, _ in request.headers][:2] == ["Via", "Max-Forwards"]
    assert request.vias[1].host == "proxy.example"


def test_response_target_rules() -> None:
    source = Target("udp", "203.0.113.7", 40000)
    via = Via("UDP", "pc33.example.com", 5066, {"branch": new_branch()})
    assert response_target(via, source) == Target("udp", "pc33.example.com", 5066)
    received = via.with_params(received="203.0.113.7")
    assert response_target(received, source) == Target("udp", "203.0.113.7", 5066)
    rport = received.with_params(rport="40000")
    assert response_target(rport, source) == Target("udp", "203.0.113.7", 40000)
    maddr = via.with_params(maddr="239.255.255.1")
    assert response_target(maddr, source) == Target("udp", "239.255.255.1", 5066)
    default_port = Via("UDP", "pc33.example.com", None, {"branch": new_branch()})
    assert response_target(default_port, source).port == 5060
    conn = object()
    tcp = Target("tcp", "203.0.113.7", 40000, conn)
    assert response_target(received, tcp) == Target("tcp", "203.0.113.7", 5066, conn)
    assert tcp.reliable and not source.reliable


def test_responses_follow_rport_end_to_end() -> None:
    layer = TransactionLayer()
    nat = Target("udp", "203.0.113.7", 40000)
    request = make_request("OPTIONS", via_host="10.0.0.2", rport=True)
    tx = server_transaction(layer.receive_request(request, nat, 0))
    assert tx.target == Target("udp", "203.0.113.7", 40000)
    layer.send_response(tx, respond(tx.request, 200), 0)
    ((response, target),) = layer.messages_to_send()
    assert target == tx.target
    assert isinstance(response, Response)
    assert response.via.received == "203.0.113.7" and response.via.rport == 40000


def test_tcp_responses_go_back_over_the_connection() -> None:
    h = uac_and_uas("tcp")
    start(h, "INVITE")
    tx = server_transaction(h.transfer(h.uac))
    ((_, target),) = h.uas.layer.messages_to_send()
    assert target.connection == "uac-conn" and tx.source == h.uac.address


# -- loss recovery ----------------------------------------------------------------


def test_lost_non_invite_final_response_is_recovered_by_retransmission() -> None:
    h = uac_and_uas()
    client, _ = start(h, "OPTIONS")
    tx = server_transaction(h.transfer(h.uac))
    h.uas.layer.send_response(tx, respond(tx.request, 200), 0.1)
    h.clock.now = 0.1
    assert h.transfer(h.uas, drop=lambda m: True) == []  # the 200 is lost
    h.advance(0.5)  # Timer E: the request again
    assert h.transfer(h.uac) == []  # absorbed by the Completed server transaction
    events = h.transfer(h.uas)  # ...which sent its 200 again
    assert events == [ev.ResponseReceived(client, events[0].response)]  # type: ignore[union-attr]
    h.finish()


def test_lost_invite_failure_and_lost_ack_are_recovered() -> None:
    h = uac_and_uas()
    client, _ = start(h, "INVITE")
    tx = server_transaction(h.transfer(h.uac))
    h.transfer(h.uas)
    h.uas.layer.send_response(tx, respond(tx.request, 486), 0.1)
    h.clock.now = 0.1
    h.transfer(h.uas, drop=lambda m: isinstance(m, Response) and m.status == 486)
    h.advance(0.6)  # Timer G
    assert kinds(h.transfer(h.uas)) == ["ResponseReceived"]
    assert client.state is ClientState.COMPLETED
    h.transfer(h.uac, drop=lambda m: True)  # the ACK is lost
    h.advance(1.6)  # Timer G again
    assert h.transfer(h.uas) == []  # the 486 copy: re-ACKed, absorbed
    assert h.transfer(h.uac) == []
    assert tx.state is ServerState.CONFIRMED
    h.finish()


def test_lost_invite_is_retransmitted_by_timer_a() -> None:
    h = uac_and_uas()
    start(h, "INVITE")
    h.transfer(h.uac, drop=lambda m: True)
    h.advance(0.5)
    events = h.transfer(h.uac)
    assert kinds(events) == ["RequestReceived"]
    h.transfer(h.uas)  # 100 Trying stops Timer A
    assert h.advance(10.0) == []


# -- RFC 2543 peers (§17.2.3) ---------------------------------------------------------


def test_rfc2543_matching_without_magic_cookie() -> None:
    layer = TransactionLayer()
    source = Target("udp", UAC_HOST, UAC_PORT)
    invite = make_request("INVITE", branch="old-style-1")
    tx = server_transaction(layer.receive_request(copy.deepcopy(invite), source, 0))
    assert layer.receive_request(copy.deepcopy(invite), source, 0.4) == []
    layer.send_response(tx, respond(tx.request, 486), 0.5)
    layer.messages_to_send()
    wrong = make_request("ACK", branch="old-style-1", call_id=invite.call_id,
                         from_tag=invite.from_.tag, to_tag="other-tag")
    assert kinds(layer.receive_request(wrong, source, 0.6)) == ["AckReceived"]
    ack = make_request("ACK", branch="old-style-1", call_id=invite.call_id,
                       from_tag=invite.from_.tag, to_tag="uas-tag")
    assert layer.receive_request(ack, source, 0.7) == []
    assert tx.state is ServerState.CONFIRMED
    no_branch = make_request("OPTIONS")
    no_branch.headers.set("Via", Via("UDP", UAC_HOST, UAC_PORT))
    assert kinds(layer.receive_request(no_branch, source, 1.0)) == ["RequestReceived"]


# -- misuse, transport errors -------------------------------------------------------------


def test_send_request_misuse() -> None:
    layer = TransactionLayer()
    target = Target("udp", UAS_HOST, UAS_PORT)
    with pytest.raises(LocalProtocolError):
        layer.send_request(make_request("ACK"), target, 0)
    request = make_request("OPTIONS")
    layer.send_request(request, target, 0)
    with pytest.raises(LocalProtocolError):
        layer.send_request(make_request("OPTIONS", branch=request.via.branch), target, 0)
    with pytest.raises(LocalProtocolError):
        layer.send_request(make_request("OPTIONS", branch="no-cookie"), target, 0)
    blank = make_request("OPTIONS")
    blank.headers.set("Via", Via("UDP", UAC_HOST, UAC_PORT))
    assert layer.send_request(blank, target, 0).request.via.is_compliant
    with pytest.raises(LocalProtocolError):
        TransactionLayer(t1=0)


def test_malformed_request_is_remote_error() -> None:
    layer = TransactionLayer()
    request = make_request("OPTIONS")
    request.headers.remove("Call-ID")
    with pytest.raises(RemoteProtocolError) as info:
        layer.receive_request(request, Target("udp", UAC_HOST, UAC_PORT), 0)
    assert info.value.status == 400
    mismatched = make_request("OPTIONS")
    mismatched.headers.set("CSeq", CSeq(1, "INVITE"))
    with pytest.raises(RemoteProtocolError):
        layer.receive_request(mismatched, Target("udp", UAC_HOST, UAC_PORT), 0)


def test_transport_error_terminates_client_and_server() -> None:
    h = uac_and_uas()
    client, request = start(h, "INVITE")
    (sent,) = h.uac.layer.messages_to_send()
    assert h.uac.layer.transaction_of(sent[0]) is client
    events = h.uac.layer.transport_error(client, 0.1)
    assert events == [ev.TransportFailed(client), ev.TransactionTerminated(client)]
    server = TransactionLayer()
    tx = server_transaction(server.receive_request(request, h.uac.address, 0))
    server.send_response(tx, respond(tx.request, 500), 0)
    _trying, final = server.messages_to_send()
    assert server.transaction_of(final[0]) is tx
    assert kinds(server.transport_error(tx, 0.2)) == ["TransportFailed", "TransactionTerminated"]
    assert h.uac.layer.is_idle and server.is_idle


def test_lazy_cancellation_keeps_heap_bounded() -> None:
    layer = TransactionLayer()
    target = Target("udp", UAS_HOST, UAS_PORT)
    for i in range(200):
        request = make_request("INVITE")
        layer.send_request(request, target, i * 0.001)
        layer.receive_response(respond(request, 180), i * 0.001)  # cancels A and B
    assert layer.next_timer() is None
    assert len(layer._heap) == 0


# -- compacted and parked transactions (what the garbage collector does not walk) -------


def parked_server(
    h: Harness, method: str, status: int
) -> tuple[Request, bytes, weakref.ref[ServerTransaction]]:
    """A server transaction answered with ``status`` at 0 s that the TU then forgets.

    Returns the request, the bytes of the response and a weak reference to the
    transaction object, dead once the layer keeps no object of it (parked).
    """
    _, request = start(h, method)
    h.uac.drain()
    events = h.uas.layer.receive_request(copy.deepcopy(request), h.uac.address, 0.0)
    tx = server_transaction(events)
    response = respond(tx.request, status)
    h.uas.layer.send_response(tx, response, 0.0)
    assert bytes(h.uas.drain()[-1]) == bytes(response)
    return request, bytes(response), weakref.ref(tx)


def test_parked_non_invite_resends_the_same_bytes_then_timer_j() -> None:
    h = uac_and_uas()
    request, wire, ref = parked_server(h, "OPTIONS", 200)
    assert ref() is None  # the layer holds no object: bytes and strings only
    assert h.uas.layer.receive_request(copy.deepcopy(request), h.uac.address, 1.0) == []
    (again,) = h.uas.drain()
    assert isinstance(again, Response) and bytes(again) == wire and again.status == 200
    (ended,) = h.uas.layer.handle_timer(64 * T1)
    assert isinstance(ended, ev.TransactionTerminated)
    assert ended.transaction.state is ServerState.TERMINATED
    assert ended.transaction.request.call_id == request.call_id  # a view of its bytes
    assert h.uas.layer.is_idle


def test_parked_invite_failure_retransmits_and_absorbs_the_ack() -> None:
    h = uac_and_uas()
    invite, wire, ref = parked_server(h, "INVITE", 486)
    assert ref() is None
    assert h.uas.layer.handle_timer(T1) == []  # Timer G: the same bytes again
    assert [bytes(m) for m in h.uas.drain()] == [wire]
    ack = make_request("ACK", branch=invite.via.branch, call_id=invite.call_id,
                       from_tag=invite.from_.tag, to_tag="uas-tag")
    assert h.uas.layer.receive_request(ack, h.uac.address, 0.6) == []  # Confirmed
    assert h.uas.layer.next_timer() == 0.6 + T4  # Timer I; G and H are stopped
    assert kinds(h.uas.layer.handle_timer(0.6 + T4)) == ["TransactionTerminated"]
    assert h.uas.layer.is_idle


def test_parked_accepted_invite_still_matches_copies_ack_cancel_and_merges() -> None:
    h = uac_and_uas()
    invite, _, ref = parked_server(h, "INVITE", 200)
    assert ref() is None
    layer = h.uas.layer
    assert layer.receive_request(copy.deepcopy(invite), h.uac.address, 0.5) == []
    assert h.uas.drain() == []  # RFC 6026: absorbed, the TU retransmits its 2xx
    cancel = make_request("CANCEL", branch=invite.via.branch, call_id=invite.call_id,
                          from_tag=invite.from_.tag)
    assert layer.receive_request(cancel, h.uac.address, 0.6) == []  # no CancelReceived
    (ok,) = h.uas.drain()
    assert isinstance(ok, Response) and ok.status == 200 and ok.to.tag == "uas-tag"
    fork = make_request("INVITE", call_id=invite.call_id, from_tag=invite.from_.tag,
                        via_host="203.0.113.5")
    assert layer.receive_request(fork, h.uac.address, 0.7) == []
    assert statuses(h.uas.drain()) == [482]  # §8.2.2.2 still sees the parked INVITE
    ack = make_request("ACK", branch=invite.via.branch, call_id=invite.call_id,
                       from_tag=invite.from_.tag, to_tag="uas-tag")
    (acked,) = layer.receive_request(ack, h.uac.address, 0.8)
    assert isinstance(acked, ev.AckReceived) and acked.transaction is not None
    assert acked.transaction.state is ServerState.ACCEPTED
    assert acked.transaction.key[0] == base_key(invite)
    del acked
    fired = h.advance(0.1 + 64 * T1)
    assert ev.TransactionTerminated in [type(e) for _, p, events in fired if p is h.uas
                                        for e in events]
    h.finish()


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_a_held_transaction_is_parked_too_and_its_object_follows(transport: str) -> None:
    h = uac_and_uas(transport)
    start(h, "INVITE")
    tx = server_transaction(h.transfer(h.uac))
    h.uas.layer.send_response(tx, respond(tx.request, 486), 0.0)  # Completed: Timer H runs
    data, links = tx.park()
    assert links == (None if transport == "udp" else ("uac-conn", "uac-conn"))
    clone = ServerTransaction.unpark(data, links)
    slots = {name for cls in type(tx).__mro__ for name in getattr(cls, "__slots__", ())}
    for name in slots - {"__weakref__"}:
        assert getattr(clone, name) == getattr(tx, name), name
    ack = make_request("ACK", branch=tx.request.via.branch, call_id=tx.request.call_id,
                       from_tag=tx.request.from_.tag, to_tag="uas-tag", transport=transport)
    assert h.uas.layer.receive_request(ack, h.uac.address, 0.1) == []
    assert tx.state is ServerState.CONFIRMED  # the TU's object, not a copy, changed


# -- randomized event orders --------------------------------------------------------

Op = tuple[str, int]

ops = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "invite", "options", "deliver_uac", "deliver_uas", "drop_uac", "drop_uas",
                "duplicate", "respond", "cancel", "stray", "ack", "advance", "transport_error",
                "forget",
            ]
        ),
        st.integers(min_value=0, max_value=1000),
    ),
    max_size=60,
)


class Chaos:
    """Random commands against a UAC/UAS pair; every message may be lost or repeated."""

    def __init__(self, transport: str) -> None:
        self.h = uac_and_uas(transport)
        self.wire: dict[str, list[Message]] = {"uac": [], "uas": []}
        self.clients: list[ClientTransaction] = []
        self.servers: list[ServerTransaction] = []

    def run(self, op: str, n: int) -> None:
        getattr(self, f"_{op}")(n)
        for side, peer in (("uac", self.h.uac), ("uas", self.h.uas)):
            self.wire[side] += peer.drain()

    def settle(self) -> None:
        """Run out the timers; then only what waits on a TU may be left, and a correct
        TU ends it: a final response to each request, a CANCEL of each INVITE."""
        self.h.advance(self.h.clock.now + 100.0)
        for tx in self.servers:
            assert tx.state in (ServerState.TERMINATED, ServerState.TRYING,
                                ServerState.PROCEEDING)
            self.h.uas.layer.send_response(tx, respond(tx.request, 500), self.h.clock.now)
        for client in self.clients:
            assert client.state in (ClientState.TERMINATED, ClientState.PROCEEDING)
            if client.state is ClientState.PROCEEDING:
                self.h.uac.layer.cancel(client, self.h.clock.now)

    def _invite(self, n: int) -> None:
        self.clients.append(start(self.h, "INVITE")[0])

    def _options(self, n: int) -> None:
        self.clients.append(start(self.h, "OPTIONS")[0])

    def _deliver(self, side: str, n: int, keep: bool = False) -> None:
        queue = self.wire[side]
        if not queue:
            return
        message = queue[n % len(queue)] if keep else queue.pop(n % len(queue))
        message = copy.deepcopy(message)
        now = self.h.clock.now
        if side == "uac":
            if isinstance(message, Request):
                events = self.h.uas.layer.receive_request(message, self.h.uac.address, now)
                self.servers += [e.transaction for e in events
                                 if isinstance(e, ev.RequestReceived)]
        elif isinstance(message, Response):
            self.h.uac.layer.receive_response(message, now)

    def _deliver_uac(self, n: int) -> None:
        self._deliver("uac", n)

    def _deliver_uas(self, n: int) -> None:
        self._deliver("uas", n)

    def _drop_uac(self, n: int) -> None:
        if self.wire["uac"]:
            self.wire["uac"].pop(n % len(self.wire["uac"]))

    def _drop_uas(self, n: int) -> None:
        if self.wire["uas"]:
            self.wire["uas"].pop(n % len(self.wire["uas"]))

    def _duplicate(self, n: int) -> None:
        self._deliver("uac" if n % 2 else "uas", n // 2, keep=True)

    def _respond(self, n: int) -> None:
        if self.servers:
            tx = self.servers[n % len(self.servers)]
            status = (100, 180, 200, 486, 503)[n % 5]
            self.h.uas.layer.send_response(tx, respond(tx.request, status), self.h.clock.now)

    def _cancel(self, n: int) -> None:
        invites = [c for c in self.clients if c.is_invite]
        if invites:
            self.h.uac.layer.cancel(invites[n % len(invites)], self.h.clock.now)

    def _stray(self, n: int) -> None:
        status = (180, 200, 486)[n % 3]
        stray = respond(make_request(("INVITE", "BYE")[n % 2]), status)
        self.h.uac.layer.receive_response(stray, self.h.clock.now)

    def _ack(self, n: int) -> None:
        if self.clients:
            request = self.clients[n % len(self.clients)].request
            ack = make_request("ACK", branch=request.via.branch if n % 2 else None,
                               call_id=request.call_id, from_tag=request.from_.tag,
                               to_tag="uas-tag", cseq=request.cseq.number)
            self.h.uas.layer.receive_request(ack, self.h.uac.address, self.h.clock.now)

    def _advance(self, n: int) -> None:
        self.h.advance(self.h.clock.now + n / 40)

    def _forget(self, n: int) -> None:
        """Drop the TU's references to answered server transactions: parked, they are
        rebuilt from their bytes when a copy, an ACK or a timer comes."""
        self.servers = [tx for tx in self.servers if not tx.absorbing]
        self.h.uas.events.clear()

    def _transport_error(self, n: int) -> None:
        pool: list[ClientTransaction | ServerTransaction] = [*self.clients, *self.servers]
        if pool:
            tx = pool[n % len(pool)]
            layer = self.h.uac.layer if isinstance(tx, ClientTransaction) else self.h.uas.layer
            layer.transport_error(tx, self.h.clock.now)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops, st.sampled_from(["udp", "tcp"]))
def test_random_event_orders_never_crash_and_leave_no_state(
    operations: list[Op], transport: str
) -> None:
    chaos = Chaos(transport)
    for op, n in operations:
        chaos.run(op, n)
    chaos.settle()
    chaos.h.finish()
    for tx in chaos.clients:
        assert tx.state is ClientState.TERMINATED and not tx.timers
    for server in chaos.servers:
        assert server.state is ServerState.TERMINATED and not server.timers
