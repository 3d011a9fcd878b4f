"""RFC 4475 torture messages through the parser (data and provenance: data/rfc4475/README.md).

Valid messages must parse to the values the RFC describes; invalid ones must be
refused with the status (and reason) we chose.  Where RFC 4475 lets a server be
liberal (``ltgtruri``, ``lwsruri``, ``lwsstart``, ``trws``: "may ignore ...
/ could attempt to ..."), Hotline refuses: a strict start line is simpler to
get right, and the RFC calls rejection "reasonable" / "acceptable" for each.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from media.sip.errors import RemoteProtocolError
from media.sip.headers import CSeq, Via
from media.sip.message import Request, Response
from media.sip.parser import StreamParser, parse_message

DATA = Path(__file__).parent / "data" / "rfc4475"

#: §3.1.1 (all valid) and the §3.2-§3.4 messages that are syntactically valid.
PARSES = [
    "wsinv", "intmeth", "esc01", "escnull", "esc02", "lwsdisp", "longreq", "dblreq",
    "semiuri", "transports", "mpart01", "unreason", "noreason",
    "baddate", "badbranch", "unksm2", "bext01", "invut", "regaut01", "bcast", "zeromf",
    "cparam01", "cparam02", "regescrt", "sdp01", "inv2543",
]  # fmt: skip

#: name -> (status, exact reason).  §3.1.2 plus the refused §3.3 ones.
REFUSED = {
    "badinv01": (400, 'Bad Via header: "SIP/2.0/UDP 192.0.2.15;;,;,," (bad parameter at ";;")'),
    "clerr": (400, "Content-Length larger than body"),
    "ncl": (400, 'Bad Content-Length header: "-999" (not a number)'),
    "scalar02": (400, 'Bad CSeq header: "36893488147419103232 REGISTER" (over 4294967295)'),
    "scalarlg": (400, 'Bad CSeq header: "9292394834772304023312 OPTIONS" (over 4294967295)'),
    "quotbal": (
        400,
        'Bad To header: ""Mr. J. User <sip:j.user@example.com>" (unterminated quoted string)',
    ),
    "ltgtruri": (
        400,
        'Bad Request-URI: "<sip:user@example.com>" (a Request-URI is never enclosed in <>)',
    ),
    "lwsruri": (
        400,
        'Bad request line: "INVITE sip:user@example.com; lr SIP/2.0" '
        "(expected Method SP Request-URI SP SIP-Version)",
    ),
    "lwsstart": (
        400,
        'Bad request line: "INVITE  sip:user@example.com  SIP/2.0" '
        "(expected Method SP Request-URI SP SIP-Version)",
    ),
    "trws": (
        400,
        'Bad request line: "OPTIONS sip:remote-target@example.com SIP/2.0  " '
        "(expected Method SP Request-URI SP SIP-Version)",
    ),
    "escruri": (
        400,
        'Bad Request-URI: "sip:user@example.com?Route=%3Csip:example.com%3E" '
        "(URI headers not allowed)",
    ),
    "regbadct": (
        400,
        'Bad Contact header: "sip:user@example.com?Route=%3Csip:sip.example.com%3E" '
        "(a URI with headers or commas must be enclosed in <>)",
    ),
    "badaspec": (
        400,
        'Bad To header: ""Watson, Thomas" < sip:t.watson@example.org >" (white space inside <>)',
    ),
    "baddn": (
        400,
        'Bad From header: "Bell, Alexander <sip:a.g.bell@example.com>;tag=43" '
        "(display name must be tokens or a quoted string, then <uri>)",
    ),
    "badvers": (505, 'SIP version not supported: "SIP/7.0"'),
    "mismatch01": (400, "CSeq method does not match request method"),
    # RFC 4475 prefers 501 for an unknown method, but allows 400; the parser
    # cannot know which methods the application implements.
    "mismatch02": (400, "CSeq method does not match request method"),
    "bigcode": (400, 'Bad status line: "SIP/2.0 4294967301 better not break the receiver"'),
    "insuf": (400, "Missing required headers: From, To, Call-ID"),
    "unkscm": (416, 'Unsupported URI scheme: "nobodyKnowsThisScheme"'),
    "novelsc": (416, 'Unsupported URI scheme: "soap.beep"'),
    "multi01": (400, "Duplicate CSeq header"),
    "mcl01": (400, "Duplicate Content-Length header"),
}


def load(name: str) -> bytes:
    return (DATA / f"{name}.dat").read_bytes()


def request(name: str) -> Request:
    message = parse_message(load(name))
    assert isinstance(message, Request)
    return message


def values(message: Request | Response) -> list[tuple[str, str]]:
    """Comparable form of a message: start line, headers as text, body."""
    start = f"{message.method} {message.uri}" if isinstance(message, Request) else (
        f"{message.status} {message.reason}"
    )
    headers = [(n, str(v)) for n, v in message.headers if n != "Content-Length"]
    return [("start", start), *headers, ("body", repr(message.body))]


def test_every_file_is_classified() -> None:
    names = {p.stem for p in DATA.glob("*.dat")}
    assert names == set(PARSES) | set(REFUSED)
    assert not set(PARSES) & set(REFUSED)


@pytest.mark.parametrize("name", PARSES)
def test_valid_message_parses_and_round_trips(name: str) -> None:
    message = parse_message(load(name))
    again = parse_message(bytes(message))
    assert values(again) == values(message)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_invalid_message_is_refused(name: str) -> None:
    status, reason = REFUSED[name]
    with pytest.raises(RemoteProtocolError) as info:
        parse_message(load(name))
    assert (info.value.status, info.value.reason) == (status, reason)


@pytest.mark.parametrize("name", [n for n in PARSES if n != "inv2543"])
def test_valid_message_on_a_stream_byte_by_byte(name: str) -> None:
    """Streams need Content-Length, which only inv2543 (RFC 2543 style) lacks."""
    expected = parse_message(load(name))
    parser = StreamParser()
    for byte in load(name):
        parser.feed(bytes([byte]))
        message = parser.next_message()
        if message is not None:
            break
    assert message is not None and values(message) == values(expected)


# --- §3.1.1 valid messages, value by value ------------------------------------------------
def test_wsinv_short_tortuous_invite() -> None:
    """§3.1.1.1: folding, escapes in quotes, compact and long names, odd case, leading zeros."""
    m = request("wsinv")
    assert m.method == "INVITE"
    assert (m.uri.scheme, m.uri.user, m.uri.host, m.uri.port) == (
        "sip", "vivekg", "chair-dnrc.example.com", None,
    )
    assert m.uri.params == {"unknownparam": None}
    assert m.to.display is None and m.to.tag == "1918181833n"
    assert str(m.to.uri) == "sip:vivekg@chair-dnrc.example.com"
    assert m.from_.display == 'J Rosenberg \\"' and m.from_.tag == "98asjd8"
    assert m.max_forwards == 68
    assert m.call_id == "wsinv.ndaksdj@192.0.2.1"
    assert m.cseq == CSeq(9, "INVITE")
    assert [(v.transport, v.host, v.port, v.branch) for v in m.vias] == [
        ("UDP", "192.0.2.2", None, "390skdjuw"),
        ("TCP", "spindle.example.com", None, "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", None, "z9hG4bK30239"),
    ]
    assert m.headers.get("Subject") == ""
    assert m.headers.get("NewFangledHeader") == "newfangled value continued newfangled value"
    assert m.headers.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    route = m.routes[0]
    assert route.uri.params == {"lr": None, "unknownwith": "value", "unknown-no-value": None}
    [contact] = m.contacts
    assert contact.display == 'Quoted string ""'
    assert contact.params == {"newparam": "newvalue", "secondparam": None, "q": "0.33"}
    assert m.content_type == "application/sdp"
    assert m.headers.get("Content-Length") == 150 and len(m.body) == 150


def test_intmeth_wide_range_of_valid_characters() -> None:
    """§3.1.1.2: token characters everywhere, quoted NUL/BEL/DEL, % that is not an escape."""
    m = request("intmeth")
    method = "!interesting-Method0123456789_*+`.%indeed'~"
    assert m.method == method and m.cseq == CSeq(139122385, method)
    assert m.uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert m.uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert m.uri.host == "example.com"
    assert m.via.branch == "z9hG4bK-.!%66*_+`'~"
    assert m.to.display == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert m.from_.display == "token1~` token2'+_ token3*%!.-"
    assert m.from_.params == {"fromparam''~+*_!.-%": '"работающий"', "tag": "_token~1'+`*%!-."}
    assert m.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert m.max_forwards == 255
    assert m.headers.get("extensionHeader-!.%*+_`'~") == "\ufeff大停電"


def test_esc01_escapes_kept_as_received() -> None:
    """§3.1.1.3: %HH in user parts and URI parameters (kept escaped; the app unescapes)."""
    m = request("esc01")
    assert m.uri.user == "sips%3Auser%40example.com" and m.uri.host == "example.net"
    assert m.to.uri.user == "%75se%72"
    assert m.from_.uri.user == "I%20have%20spaces"
    assert m.call_id == "esc01.239409asdfakjkn23onasd0-3234"
    [contact] = m.contacts
    assert contact.uri.user == "cal%6Cer"
    assert contact.uri.params == {"%6c%72": None, "n%61me": "v%61lue%25%34%31"}
    assert m.content_type == "application/sdp" and len(m.body) == 150


def test_escnull_two_distinct_contacts() -> None:
    """§3.1.1.4: %00 in user parts must not shorten anything."""
    m = request("escnull")
    assert m.to.uri.user == "null-%00-null"
    assert [c.uri.user for c in m.contacts] == ["%00", "%00%00"]


def test_esc02_percent_that_is_not_an_escape() -> None:
    """§3.1.1.5: unknown method, "%Z%45" display names, and a header named C%6Fntact."""
    m = request("esc02")
    assert m.method == "RE%47IST%45R" and m.cseq.method == "RE%47IST%45R"
    assert m.to.display == "%Z%45" and m.from_.display == "%Z%45"
    assert [c.uri.user for c in m.contacts] == ["alias1", "alias3"]
    assert m.headers.get("C%6Fntact") == "<sip:alias2@host2.example.com>"
    assert m.via.branch == "z9hG4bK209%fzsnel234"


def test_lwsdisp_no_space_before_angle_bracket() -> None:
    """§3.1.1.6: ``caller<sip:...>`` is accepted (a spec bug, not the sender's)."""
    m = request("lwsdisp")
    assert m.from_.display == "caller" and m.from_.tag == "323"


def test_longreq_long_values_and_34_vias() -> None:
    """§3.1.1.7: long names, values and parameters; Via names in every case and form."""
    m = request("longreq")
    assert len(m.vias) == 34
    assert m.vias[0].host == "sip33.example.com" and m.vias[-1].host == "host.example.com"
    assert m.vias[-1].received == "192.0.2.5"
    assert m.vias[-1].branch == "very" + "long" * 50 + "branchvalue"
    assert m.to.display is not None and "extreme" * 10 in m.to.display
    assert m.to.uri.port == 6000
    assert m.from_.tag is not None and len(m.from_.tag) > 150
    assert m.call_id.startswith("longreq.onereally") and len(m.body) == 150


def test_dblreq_trailing_octets_discarded() -> None:
    """§3.1.1.8: the INVITE after the REGISTER's empty body is datagram noise (§18.3)."""
    m = request("dblreq")
    assert m.method == "REGISTER" and m.body == b""
    assert m.call_id == "dblreq.0ha0isndaksdj99sdfafnl3lk233412"
    assert m.contacts[0].uri.user == "j.user"


def test_dblreq_on_a_stream_is_two_messages() -> None:
    parser = StreamParser()
    parser.feed(load("dblreq"))
    first, second = parser.next_message(), parser.next_message()
    assert isinstance(first, Request) and first.method == "REGISTER"
    assert isinstance(second, Request) and second.method == "INVITE"
    assert len(second.body) == 150
    # The noise INVITE's body is 5 bytes longer than its Content-Length says:
    # on a stream, what follows is garbage without a Content-Length.
    with pytest.raises(RemoteProtocolError, match="Missing Content-Length"):
        parser.next_message()
    assert parser.broken and parser.failed_data() == b"C\r\n\r\n"


def test_semiuri_parameters_in_the_user_part() -> None:
    """§3.1.1.9: the user part is ``user;par=u%40example.net``; no URI parameters."""
    m = request("semiuri")
    assert m.uri.user == "user;par=u%40example.net"
    assert (m.uri.host, m.uri.params) == ("example.com", {})
    assert m.headers.get("Accept") == (
        "application/sdp, application/pkcs7-mime, multipart/mixed, multipart/signed, "
        "message/sip, message/sipfrag"
    )


def test_transports_known_and_unknown() -> None:
    """§3.1.1.10."""
    m = request("transports")
    assert [v.transport for v in m.vias] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]
    assert m.call_id == "transports.kijh4akdnaqjkwendsasfdj"


def test_mpart01_binary_body_framed_by_content_length() -> None:
    """§3.1.1.11: the body holds NULs, bare CRs and LFs."""
    m = request("mpart01")
    assert m.method == "MESSAGE" and len(m.body) == 553
    assert b"\x00" in m.body and m.body.endswith(b"--7a9cbec02ceef655--\r\n")
    assert m.via.wants_rport and m.via.port == 5070
    assert m.content_type == "multipart/mixed"


def test_unreason_utf8_reason_phrase() -> None:
    """§3.1.1.12."""
    m = parse_message(load("unreason"))
    assert isinstance(m, Response) and m.status == 200
    assert m.reason == "= 2**3 * 5**2 но сто девяносто девять - простое"
    assert len(m.body) == 154


def test_noreason_empty_reason_phrase() -> None:
    """§3.1.1.13."""
    m = parse_message(load("noreason"))
    assert isinstance(m, Response) and (m.status, m.reason) == (100, "")
    assert m.to.tag == "902jndnke3"


# --- §3.1.2 / §3.2-§3.4 messages the parser accepts -----------------------------------------
def test_baddate_is_accepted_because_date_is_never_interpreted() -> None:
    """§3.1.2.12: rejecting is allowed only if Date mattered; it is kept as text."""
    assert request("baddate").headers.get("Date") == "Fri, 01 Jan 2010 16:00:00 EST"


def test_badbranch_bare_magic_cookie_parses() -> None:
    """§3.2.1: the parser must not break; the transaction layer decides."""
    assert request("badbranch").via.branch == "z9hG4bK"


def test_unksm2_unknown_schemes_in_headers() -> None:
    """§3.3.4: syntactically valid; a registrar (not the parser) refuses a non-SIP AOR."""
    m = request("unksm2")
    assert (m.to.uri.scheme, m.to.uri.user) == ("isbn", "2983792873")
    assert (m.from_.uri.scheme, m.from_.uri.user, m.from_.tag) == (
        "http", "//www.example.com", "3234233",
    )
    assert str(m.contacts[0].uri) == "name:John_Smith"


def test_cparam01_param_after_addr_spec_belongs_to_the_header() -> None:
    """§3.3.12 / RFC 3261 §20.10: without <>, ``;unknownparam`` is a contact parameter."""
    [contact] = request("cparam01").contacts
    assert contact.uri.params == {} and contact.params == {"unknownparam": None}
    assert contact.uri.user == "+19725552222"


def test_cparam02_param_inside_brackets_belongs_to_the_uri() -> None:
    """§3.3.13."""
    [contact] = request("cparam02").contacts
    assert contact.uri.params == {"unknownparam": None} and contact.params == {}


def test_regescrt_escaped_header_in_contact_uri() -> None:
    """§3.3.14: inside <> a URI may carry escaped headers."""
    [contact] = request("regescrt").contacts
    assert contact.uri.headers == {"Route": "%3Csip:sip.example.com%3E"}


def test_bcast_response_with_broadcast_via() -> None:
    """§3.3.10: the parser accepts it; the transport never sends to 255.255.255.255."""
    m = parse_message(load("bcast"))
    assert isinstance(m, Response)
    assert [v.host for v in m.vias] == ["192.0.2.198", "255.255.255.255"]


def test_zeromf_max_forwards_zero() -> None:
    """§3.3.11: valid; the UAS answers OPTIONS, a proxy would send 483."""
    assert request("zeromf").max_forwards == 0


def test_inv2543_rfc2543_syntax() -> None:
    """§3.4.1: no Max-Forwards (tolerated), no branch, no Content-Length (body = rest)."""
    m = request("inv2543")
    assert m.max_forwards is None and m.via.branch is None
    assert "Content-Length" not in m.headers and m.body.startswith(b"v=0\r\n")
    assert len(m.body) == 105
    assert m.to.params == {"user": "phone"} and m.to.uri.params == {}
    assert m.from_.uri.params == {"user": "phone"}
    rr = m.record_routes[0]
    assert rr.uri.params == {"maddr": "ss1.example.com"}


def test_require_and_authorization_stay_text() -> None:
    """§3.3.5, §3.3.7: option tags and unknown auth schemes are the application's business."""
    assert request("bext01").headers.get("Proxy-Require") == (
        "noProxiesSupportThis, norDoAnyProxiesSupportThis"
    )
    assert request("regaut01").headers.get("Authorization") == (
        "NoOneKnowsThisScheme opaque-data=here"
    )
    assert isinstance(request("bext01").via, Via)
