"""Dialogs (RFC 3261 §12): creation on both sides, in-dialog requests, CSeq checks.

The messages are wire text run through the parser, like the RFC's examples;
every request a dialog builds is serialized and parsed back.
"""

from __future__ import annotations

import pytest

from media.sip.dialog import Dialog, DialogState
from media.sip.errors import RemoteProtocolError
from media.sip.headers import MAGIC_COOKIE, CSeq, HeaderValue, NameAddr, Via
from media.sip.message import Request, Response, make_response, parse_message
from media.sip.uri import SipUri

VIA = Via("UDP", "198.51.100.20", 5060, {"rport": None})

# An INVITE that crossed two record-routing proxies (after RFC 3261 §24.2, F1-F3).
INVITE = (
    b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP ss2.biloxi.example.com:5060;branch=z9hG4bK721e4.1\r\n"
    b"Via: SIP/2.0/UDP ss1.atlanta.example.com:5060;branch=z9hG4bK2d4790.1\r\n"
    b"Via: SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74bf9\r\n"
    b"Max-Forwards: 68\r\n"
    b"Record-Route: <sip:ss2.biloxi.example.com;lr>\r\n"
    b"Record-Route: <sip:ss1.atlanta.example.com;lr>\r\n"
    b"From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>\r\n"
    b"Call-ID: 3848276298220188511@atlanta.example.com\r\n"
    b"CSeq: 7 INVITE\r\n"
    b"Contact: <sip:alice@client.atlanta.example.com;transport=udp>\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def invite(text: bytes = INVITE) -> Request:
    message = parse_message(text)
    assert isinstance(message, Request)
    return message


def roundtrip(request: Request) -> Request:
    again = parse_message(bytes(request))
    assert isinstance(again, Request)
    return again


def uas_dialog(text: bytes = INVITE) -> Dialog:
    return Dialog.from_uas(invite(text), "314159")


# -- §12.1.1: the UAS side ----------------------------------------------------------------


def test_uas_dialog_fields() -> None:
    request = invite()
    dialog = Dialog.from_uas(request, "314159")
    assert dialog.id == ("3848276298220188511@atlanta.example.com", "314159", "9fxced76sl")
    assert dialog.call_id == request.call_id
    assert (dialog.local_tag, dialog.remote_tag) == ("314159", "9fxced76sl")
    assert dialog.local.uri == SipUri("biloxi.example.com", "bob")
    assert dialog.local.tag == "314159" and dialog.local.display == "Bob"
    assert dialog.remote.uri == SipUri("atlanta.example.com", "alice")
    assert dialog.remote.tag == "9fxced76sl"
    assert dialog.remote_target == SipUri(
        "client.atlanta.example.com", "alice", params={"transport": "udp"}
    )
    # the route set is the Record-Route list, in order (§12.1.1)
    assert [str(r.uri) for r in dialog.route_set] == [
        "sip:ss2.biloxi.example.com;lr", "sip:ss1.atlanta.example.com;lr"
    ]
    assert dialog.remote_cseq == 7  # the remote sequence number: the request's CSeq
    assert dialog.state is DialogState.EARLY


def test_uas_dialog_without_contact_targets_the_from_uri() -> None:
    text = INVITE.replace(b"Contact: <sip:alice@client.atlanta.example.com;transport=udp>\r\n", b"")
    assert uas_dialog(text).remote_target == SipUri("atlanta.example.com", "alice")


def test_uas_dialog_without_record_route_has_an_empty_route_set() -> None:
    text = b"".join(line + b"\r\n" for line in INVITE.split(b"\r\n")
                    if not line.startswith(b"Record-Route"))
    dialog = uas_dialog(text.removesuffix(b"\r\n"))
    assert dialog.route_set == []
    bye = dialog.create_request("BYE", VIA)
    assert bye.uri == dialog.remote_target and bye.routes == []


# -- §12.1.2: the UAC side ----------------------------------------------------------------


def _response(request: Request, status: int, *, contact: bool = True) -> Response:
    """The 2xx/18x as it reaches the caller: Record-Route copied, with a To tag and Contact."""
    headers: list[tuple[str, HeaderValue]] = [("Record-Route", r) for r in request.record_routes]
    if contact:
        headers.append(("Contact", NameAddr(SipUri("client.biloxi.example.com", "bob"))))
    response = make_response(request, status, to_tag="8321234356", headers=headers)
    again = parse_message(bytes(response))
    assert isinstance(again, Response)
    return again


@pytest.mark.parametrize(
    ("status", "state"), [(180, DialogState.EARLY), (200, DialogState.CONFIRMED)]
)
def test_uac_dialog_fields(status: int, state: DialogState) -> None:
    request = invite()
    response = _response(request, status)
    dialog = Dialog.from_uac(request, response)
    assert dialog.id == (request.call_id, "9fxced76sl", "8321234356")
    assert dialog.local is request.from_ and dialog.remote.tag == "8321234356"
    assert dialog.remote_target == SipUri("client.biloxi.example.com", "bob")
    # the route set is the Record-Route list reversed (§12.1.2)
    assert [str(r.uri) for r in dialog.route_set] == [
        "sip:ss1.atlanta.example.com;lr", "sip:ss2.biloxi.example.com;lr"
    ]
    assert dialog.local_cseq == 7 and dialog.remote_cseq is None
    assert dialog.state is state
    bye = dialog.create_request("BYE", VIA)
    assert bye.cseq == CSeq(8, "BYE")  # local sequence number + 1 (§12.2.1.1)


def test_uac_dialog_accepts_any_first_remote_cseq() -> None:
    request = invite()
    dialog = Dialog.from_uac(request, _response(request, 200))
    incoming = roundtrip(_in_dialog_from_peer(dialog, "BYE", 1))
    dialog.check_request(incoming)  # remote sequence number empty: anything goes (§12.2.2)
    assert dialog.remote_cseq == 1


def _in_dialog_from_peer(dialog: Dialog, method: str, cseq: int) -> Request:
    """A request the other end of ``dialog`` sends (From and To swapped)."""
    mirror = Dialog(
        dialog.call_id, dialog.remote_tag, dialog.local_tag, dialog.remote, dialog.local,
        SipUri("198.51.100.20"), local_cseq=cseq - 1,
    )
    return mirror.create_request(method, Via("UDP", "192.0.2.1", 5060))


# -- §12.2.1.1: building in-dialog requests -------------------------------------------------


def test_in_dialog_request_headers() -> None:
    dialog = uas_dialog()
    bye = roundtrip(dialog.create_request("BYE", VIA))
    assert bye.method == "BYE"
    assert bye.from_.tag == "314159" and bye.to.tag == "9fxced76sl"
    assert bye.from_.uri == SipUri("biloxi.example.com", "bob")
    assert bye.to.uri == SipUri("atlanta.example.com", "alice")
    assert bye.call_id == dialog.call_id
    assert bye.cseq == CSeq(1, "BYE")
    assert bye.max_forwards == 70
    (via,) = bye.vias
    assert via.host == VIA.host and via.wants_rport
    assert via.branch is not None and via.branch.startswith(MAGIC_COOKIE)
    assert "Contact" not in bye.headers


def test_local_cseq_increments_and_ack_reuses_its_invite_number() -> None:
    dialog = uas_dialog()
    first = dialog.create_request("INVITE", VIA, body=b"v=0\r\n")
    ack = dialog.create_request("ACK", VIA, cseq=first.cseq.number)
    second = dialog.create_request("INFO", VIA)
    assert [first.cseq, ack.cseq, second.cseq] == [
        CSeq(1, "INVITE"), CSeq(1, "ACK"), CSeq(2, "INFO")
    ]
    assert first.body == b"v=0\r\n" and roundtrip(first).body == b"v=0\r\n"
    assert first.via.branch != ack.via.branch != second.via.branch  # a fresh branch each


def test_loose_routing_keeps_the_remote_target_and_sends_the_route_set() -> None:
    dialog = uas_dialog()
    bye = roundtrip(dialog.create_request("BYE", VIA))
    assert bye.uri == dialog.remote_target
    assert [str(r) for r in bye.routes] == [
        "<sip:ss2.biloxi.example.com;lr>", "<sip:ss1.atlanta.example.com;lr>"
    ]


def test_strict_routing_puts_the_first_route_in_the_request_uri() -> None:
    """§12.2.1.1: strict first route -> Request-URI; the rest, then the remote target, as Route."""
    text = INVITE.replace(
        b"<sip:ss2.biloxi.example.com;lr>",
        b"<sip:ss2.biloxi.example.com:5062;transport=tcp;maddr=192.0.2.50;method=INVITE>",
    )
    dialog = uas_dialog(text)
    bye = roundtrip(dialog.create_request("BYE", VIA))
    # only what a Request-URI may not carry is stripped (§19.1.1: method, headers)
    assert bye.uri == SipUri(
        "ss2.biloxi.example.com", port=5062, params={"transport": "tcp", "maddr": "192.0.2.50"}
    )
    assert "method" not in bye.uri.params
    assert [str(r) for r in bye.routes] == [
        "<sip:ss1.atlanta.example.com;lr>",
        "<sip:alice@client.atlanta.example.com;transport=udp>",
    ]


def test_strict_router_alone_gets_the_remote_target_as_only_route() -> None:
    text = INVITE.replace(b"Record-Route: <sip:ss1.atlanta.example.com;lr>\r\n", b"").replace(
        b"<sip:ss2.biloxi.example.com;lr>", b"<sip:ss2.biloxi.example.com>"
    )
    dialog = uas_dialog(text)
    bye = dialog.create_request("BYE", VIA)
    assert bye.uri == SipUri("ss2.biloxi.example.com")
    assert [r.uri for r in bye.routes] == [dialog.remote_target]


# -- §12.2.2: checking in-dialog requests ---------------------------------------------------


def test_cseq_lower_than_the_last_is_refused_with_500() -> None:
    dialog = uas_dialog()  # remote CSeq 7
    with pytest.raises(RemoteProtocolError) as caught:
        dialog.check_request(_in_dialog_from_peer(dialog, "BYE", 6))
    assert caught.value.status == 500 and "CSeq" in caught.value.reason
    assert dialog.remote_cseq == 7  # a refused request changes nothing


def test_cseq_equal_to_the_last_is_refused_as_a_late_copy() -> None:
    dialog = uas_dialog()
    with pytest.raises(RemoteProtocolError) as caught:
        dialog.check_request(_in_dialog_from_peer(dialog, "INFO", 7))
    assert caught.value.status == 500


def test_cseq_higher_is_in_order_and_remembered() -> None:
    dialog = uas_dialog()
    dialog.check_request(_in_dialog_from_peer(dialog, "INFO", 9))  # gaps are fine
    assert dialog.remote_cseq == 9
    with pytest.raises(RemoteProtocolError):
        dialog.check_request(_in_dialog_from_peer(dialog, "BYE", 8))
    dialog.check_request(_in_dialog_from_peer(dialog, "BYE", 10))
    assert dialog.remote_cseq == 10


@pytest.mark.parametrize("method", ["ACK", "CANCEL"])
def test_ack_and_cancel_are_not_cseq_checked(method: str) -> None:
    dialog = uas_dialog()
    dialog.check_request(_in_dialog_from_peer(dialog, method, 7))
    assert dialog.remote_cseq == 7


# -- target refresh --------------------------------------------------------------------------


def test_target_refresh_replaces_the_remote_target_only_with_a_contact() -> None:
    dialog = uas_dialog()
    reinvite = _in_dialog_from_peer(dialog, "INVITE", 8)
    dialog.refresh_target(reinvite)  # no Contact: unchanged
    assert dialog.remote_target.host == "client.atlanta.example.com"
    reinvite.headers.add("Contact", NameAddr(SipUri("192.0.2.99", "alice", port=5080)))
    dialog.refresh_target(roundtrip(reinvite))
    assert dialog.remote_target == SipUri("192.0.2.99", "alice", port=5080)
    bye = dialog.create_request("BYE", VIA)
    assert bye.uri == dialog.remote_target
    assert str(bye.routes[0].uri) == "sip:ss2.biloxi.example.com;lr"  # the route set is kept
