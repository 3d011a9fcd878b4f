"""The SIP parser: datagrams, streams, header typing, and invalid twins with exact reasons."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from media.sip import message as message_module
from media.sip.errors import MessageTooLarge, RemoteProtocolError
from media.sip.headers import ContactStar, CSeq
from media.sip.message import Request, Response
from media.sip.parser import (
    StreamParser,
    parse_message,
    parse_name_addr,
    parse_uri,
    parse_via,
)
from media.sip.uri import SipUri

INVITE_LINES = [
    "INVITE sip:bob@biloxi.example.com SIP/2.0",
    "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds",
    "Max-Forwards: 70",
    "To: Bob <sip:bob@biloxi.example.com>",
    'From: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774',
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com",
    "CSeq: 314159 INVITE",
    "Contact: <sip:alice@pc33.atlanta.example.com>",
    "Content-Type: application/sdp",
    "Content-Length: 4",
]
BODY = b"v=0\n"

RESPONSE_LINES = [
    "SIP/2.0 180 Ringing",
    "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds;received=192.0.2.1",
    "To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf",
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774",
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com",
    "CSeq: 314159 INVITE",
    "Content-Length: 0",
]


def wire(lines: list[str], body: bytes = b"") -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def invite(*replace: tuple[str, str | None], extra: list[str] | None = None) -> bytes:
    """The INVITE with header lines replaced (prefix match; None deletes) or added."""
    lines = list(INVITE_LINES)
    for prefix, new in replace:
        index = next(i for i, line in enumerate(lines) if line.startswith(prefix))
        if new is None:
            del lines[index]
        else:
            lines[index] = new
    return wire(lines[:-1] + (extra or []) + lines[-1:], BODY)


def parse_request(data: bytes) -> Request:
    message = parse_message(data)
    assert isinstance(message, Request)
    return message


def refused(data: bytes) -> RemoteProtocolError:
    with pytest.raises(RemoteProtocolError) as info:
        parse_message(data)
    return info.value


def comparable(message: Request | Response) -> list[tuple[str, str]]:
    start = (
        f"{message.method} {message.uri}" if isinstance(message, Request)
        else f"{message.status} {message.reason}"
    )
    return [("", start), *((n, str(v)) for n, v in message.headers), ("", repr(message.body))]


# --- datagrams: the basics -----------------------------------------------------------------
def test_request_values() -> None:
    m = parse_request(invite())
    assert (m.method, str(m.uri)) == ("INVITE", "sip:bob@biloxi.example.com")
    assert m.via.branch == "z9hG4bK776asdhds" and m.via.transport == "UDP"
    assert m.to.display == "Bob" and m.from_.display == "Alice"
    assert m.from_.tag == "1928301774" and m.to.tag is None
    assert m.cseq == CSeq(314159, "INVITE") and m.max_forwards == 70
    assert m.headers.get("Content-Length") == 4 and m.body == BODY


def test_response_values() -> None:
    m = parse_message(wire(RESPONSE_LINES))
    assert isinstance(m, Response) and (m.status, m.reason) == (180, "Ringing")
    assert m.via.received == "192.0.2.1" and m.to.tag == "a6c85cf"


def test_round_trip_gives_equal_values() -> None:
    for data in (invite(), wire(RESPONSE_LINES)):
        first = parse_message(data)
        second = parse_message(bytes(first))
        assert comparable(second) == comparable(first)
        assert bytes(second) == bytes(first)


def test_message_module_and_sip_uri_delegate_here() -> None:
    assert isinstance(message_module.parse_message(invite()), Request)
    assert SipUri.parse("sip:a@b.example.com") == parse_uri("sip:a@b.example.com")


# --- folding, names, compact forms ----------------------------------------------------------
def test_folding_is_unfolded_to_one_space() -> None:
    m = parse_request(
        invite(
            ("Via:", "Via: SIP / 2.0\r\n /UDP\r\n\t pc33.atlanta.example.com ;\r\n branch=z9"),
            ("To:", "To:\r\n Bob\r\n <sip:bob@biloxi.example.com>"),
            extra=["Subject: lunch \r\n\tat noon \r\n   today"],
        )
    )
    assert (m.via.transport, m.via.host, m.via.branch) == (
        "UDP", "pc33.atlanta.example.com", "z9",
    )
    assert m.to.display == "Bob"
    assert m.headers.get("Subject") == "lunch at noon today"


def test_header_names_are_case_insensitive_and_canonical() -> None:
    m = parse_request(
        invite(("Via:", "vIA: SIP/2.0/UDP h.example.com"), ("Call-ID:", "CALL-id: x@y"))
    )
    assert [n for n, _ in m.headers][:2] == ["Via", "Max-Forwards"]
    assert m.headers.get("call-id") == "x@y" and m.headers.get("CALL-ID") == "x@y"


def test_compact_forms() -> None:
    data = wire(
        [
            "OPTIONS sip:bob@biloxi.example.com SIP/2.0",
            "v: SIP/2.0/TCP h.example.com;branch=z9hG4bKa",
            "t: <sip:bob@biloxi.example.com>",
            "f: <sip:alice@atlanta.example.com>;tag=1",
            "i: compact@h",
            "CSeq: 1 OPTIONS",
            "m: <sip:alice@h.example.com;transport=tcp>",
            "s: hello",
            "k: timer",
            "c: text/plain",
            "l: 2",
        ],
        b"hi",
    )
    m = parse_request(data)
    assert [n for n, _ in m.headers] == [
        "Via", "To", "From", "Call-ID", "CSeq", "Contact", "Subject", "Supported",
        "Content-Type", "Content-Length",
    ]
    assert m.call_id == "compact@h" and m.contacts[0].uri.transport == "tcp"
    assert m.body == b"hi"


# --- multiple values ---------------------------------------------------------------------
def test_multiple_values_comma_separated_and_repeated_lines_keep_order() -> None:
    m = parse_request(
        invite(
            ("Via:", "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1 , SIP/2.0/TCP b.example.com"),
            ("Contact:", 'Contact: "Doe, John" <sip:j@c.example.com>, <sip:k@d.example.com>'),
            extra=[
                "Via: SIP/2.0/UDP c.example.com:5070",
                "Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>",
                "Route: <sip:p3.example.com;lr>",
                "Record-Route: <sip:rr.example.com;lr>",
                "Contact: sip:l@e.example.com;expires=30",
            ],
        )
    )
    assert [(v.host, v.port) for v in m.vias] == [
        ("a.example.com", None), ("b.example.com", None), ("c.example.com", 5070),
    ]
    assert [c.display for c in m.contacts] == ["Doe, John", None, None]
    assert [c.uri.user for c in m.contacts] == ["j", "k", "l"]
    assert [r.uri.host for r in m.routes] == ["p1.example.com", "p2.example.com", "p3.example.com"]
    assert all(r.uri.params == {"lr": None} for r in m.routes)
    assert m.record_routes[0].uri.host == "rr.example.com"


def test_contact_star() -> None:
    m = parse_request(invite(("Contact:", "Contact:  * ")))
    assert m.headers.get_all("Contact") == [ContactStar()]


# --- quoted strings, name-addr and addr-spec --------------------------------------------------
def test_quoted_display_name_with_escapes() -> None:
    from_ = r'From: "Al \"The Pal\" \\ Jr" <sip:al@a.example.com>;tag=9'
    m = parse_request(invite(("From:", from_)))
    assert m.from_.display == 'Al "The Pal" \\ Jr'
    assert str(m.from_) == r'"Al \"The Pal\" \\ Jr" <sip:al@a.example.com>;tag=9'
    assert parse_name_addr(str(m.from_)).display == m.from_.display


def test_token_display_name_and_empty_quoted_display() -> None:
    assert parse_name_addr("Mr  J.  User <sip:u@h>").display == "Mr J. User"
    assert parse_name_addr('"" <sip:u@h>').display == ""
    assert parse_name_addr("<sip:u@h>").display is None


def test_params_after_addr_spec_belong_to_the_header() -> None:
    """RFC 3261 §20.10: ``Contact: sip:u@h;expires=60`` -> expires is a header param."""
    bare = parse_name_addr("sip:u@h.example.com;expires=60;q=0.5")
    assert bare.params == {"expires": "60", "q": "0.5"} and bare.uri.params == {}
    assert bare.expires == 60
    bracketed = parse_name_addr("<sip:u@h.example.com;expires=60>;q=0.5")
    assert bracketed.uri.params == {"expires": "60"} and bracketed.params == {"q": "0.5"}


def test_header_param_values_token_host_and_quoted() -> None:
    addr = parse_name_addr('<sip:u@h>;a=tok;b=[2001:db8::1];c="quoted; value";D=X')
    assert addr.params == {"a": "tok", "b": "[2001:db8::1]", "c": '"quoted; value"', "d": "X"}


# --- URIs --------------------------------------------------------------------------------
def test_parse_uri_all_parts() -> None:
    uri = parse_uri("sips:alice:pw%20x@Atlanta.example.com:5061;Transport=TCP;lr?Subject=hi&P=1")
    assert (uri.scheme, uri.user, uri.password) == ("sips", "alice", "pw%20x")
    assert (uri.host, uri.port) == ("Atlanta.example.com", 5061)
    assert uri.params == {"transport": "TCP", "lr": None} and uri.transport == "tcp"
    assert uri.headers == {"Subject": "hi", "P": "1"}


def test_parse_uri_ipv4_ipv6_and_host_only() -> None:
    assert (parse_uri("sip:192.0.2.4").host, parse_uri("sip:192.0.2.4").user) == ("192.0.2.4", None)
    v6 = parse_uri("sip:alice@[2001:db8::10]:5070;maddr=[2001:db8::11]")
    assert (v6.host, v6.port, v6.params) == ("2001:db8::10", 5070, {"maddr": "[2001:db8::11]"})
    assert v6.host_port == "[2001:db8::10]:5070"
    assert parse_uri("SIP:example.com.").scheme == "sip"


def test_parse_uri_tel_and_other_schemes() -> None:
    tel = parse_uri("tel:+1-201-555-0123;phone-context=example.com")
    assert (tel.scheme, tel.host) == ("tel", "")
    assert tel.user == "+1-201-555-0123;phone-context=example.com"
    assert str(tel) == "tel:+1-201-555-0123;phone-context=example.com"
    assert parse_uri("urn:service:sos").scheme == "urn"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("example.com", 'Bad URI: "example.com" (no URI scheme)'),
        ("sip:", 'Bad URI: "sip:" (malformed sip URI)'),
        ("sip:a b@h", 'Bad URI: "sip:a b@h" (malformed sip URI)'),
        ("sip:u@h:65536", 'Bad URI: "sip:u@h:65536" (bad port "65536")'),
        ("sip:u@[2001:db8::g]", 'Bad URI: "sip:u@[2001:db8::g]" (malformed sip URI)'),
        ("sip:u@[2001:db8:::1]",
         'Bad URI: "sip:u@[2001:db8:::1]" (bad IPv6 address "[2001:db8:::1]")'),
        ("sip:u@-h.example.com", 'Bad URI: "sip:u@-h.example.com" (malformed sip URI)'),
        ("sip:u@h;lr;lr", "Bad URI: \"sip:u@h;lr;lr\" (duplicate URI parameter 'lr')"),
        ("sip:u@h;", 'Bad URI: "sip:u@h;" (malformed sip URI)'),
        ("sip:u%4@h", 'Bad URI: "sip:u%4@h" (malformed sip URI)'),
        ("tel:", 'Bad URI: "tel:" (malformed tel URI)'),
        ("tel:+1 555", 'Bad URI: "tel:+1 555" (malformed tel URI)'),
    ],
)
def test_parse_uri_refuses(text: str, reason: str) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        parse_uri(text)
    assert (info.value.status, info.value.reason) == (400, reason)


def test_ipv6_in_via_and_request_uri() -> None:
    m = parse_request(
        wire(
            [
                "OPTIONS sip:[2001:db8::1]:5060 SIP/2.0",
                "Via: SIP/2.0/UDP [2001:db8::9:1]:5070;received=2001:db8::9:255;branch=z9hG4bKas",
                "To: <sip:[2001:db8::1]>",
                "From: <sip:alice@[2001:db8::9:1]>;tag=1",
                "Call-ID: v6@h",
                "CSeq: 1 OPTIONS",
            ]
        )
    )
    assert (m.uri.host, m.uri.port) == ("2001:db8::1", 5060)
    assert (m.via.host, m.via.port, m.via.received) == ("2001:db8::9:1", 5070, "2001:db8::9:255")
    assert str(m.via).startswith("SIP/2.0/UDP [2001:db8::9:1]:5070;")
    assert m.from_.uri.host == "2001:db8::9:1"


# --- Via ----------------------------------------------------------------------------------
def test_parse_via_list() -> None:
    vias = parse_via(" SIP/2.0/udp a.example.com:5060;branch=z9hG4bK1;rport;TTL=3 ,SIP/2.0/TLS b")
    assert [(v.transport, v.host, v.port) for v in vias] == [
        ("UDP", "a.example.com", 5060), ("TLS", "b", None),
    ]
    assert vias[0].params == {"branch": "z9hG4bK1", "rport": None, "ttl": "3"}
    assert vias[0].wants_rport and vias[0].is_compliant


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("SIP/2.0/UDP", 'Bad Via header: "SIP/2.0/UDP" (expected SIP/2.0/transport sent-by)'),
        ("SIP/3.0/UDP h", 'Bad Via header: "SIP/3.0/UDP h" (unsupported protocol SIP/3.0)'),
        ("SIP/2.0/UDP h:99999", 'Bad Via header: "SIP/2.0/UDP h:99999" (bad port "99999")'),
        ("SIP/2.0/UDP h;branch=1;branch=2",
         "Bad Via header: \"SIP/2.0/UDP h;branch=1;branch=2\" (duplicate parameter 'branch')"),
        ("SIP/2.0/UDP h,", 'Bad Via header: "SIP/2.0/UDP h," (expected SIP/2.0/transport sent-by)'),
        ("SIP/2.0/UDP h_h", 'Bad Via header: "SIP/2.0/UDP h_h" (bad host "h_h")'),
    ],
)
def test_parse_via_refuses(text: str, reason: str) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        parse_via(text)
    assert info.value.reason == reason


# --- case rules -----------------------------------------------------------------------------
def test_case_rules() -> None:
    """Names and schemes and "SIP/2.0" are case-insensitive; methods, values are not."""
    m = parse_request(
        wire(
            [
                "OPTIONS SIP:bob@Biloxi.example.com;TRANSPORT=Udp sip/2.0",
                "VIA: sip/2.0/tcp h.example.com;BRANCH=z9hG4bKAbC",
                "to: <sip:bob@biloxi.example.com>",
                "FROM: <sip:alice@atlanta.example.com>;TAG=AbC",
                "call-id: CaSe@h",
                "cseq: 1 OPTIONS",
            ]
        )
    )
    assert m.uri.scheme == "sip" and m.uri.host == "Biloxi.example.com"
    assert m.uri.params == {"transport": "Udp"}
    assert m.via.transport == "TCP" and m.via.branch == "z9hG4bKAbC"
    assert m.from_.tag == "AbC" and m.call_id == "CaSe@h"
    lower = invite(("INVITE", "invite sip:bob@biloxi.example.com SIP/2.0"))
    assert refused(lower).reason == "CSeq method does not match request method"


# --- bodies -------------------------------------------------------------------------------
def test_extra_bytes_after_the_body_are_discarded() -> None:
    assert parse_request(invite() + b"garbage").body == BODY


def test_without_content_length_the_body_is_the_rest() -> None:
    assert parse_request(invite(("Content-Length", None))).body == BODY


def test_body_may_be_any_bytes() -> None:
    data = invite(("Content-Length", "Content-Length: 4")).replace(BODY, b"\xff\x00\r\n")
    assert parse_request(data).body == b"\xff\x00\r\n"


def test_leading_crlfs_are_skipped() -> None:
    assert parse_request(b"\r\n\r\n\r\n" + invite()).method == "INVITE"


def test_header_section_without_empty_line_at_datagram_end() -> None:
    data = invite(("Content-Length", "Content-Length: 0"))[: -len(BODY) - 2]
    assert data.endswith(b"Content-Length: 0\r\n")
    assert parse_request(data).body == b""


def test_oversize_datagram() -> None:
    with pytest.raises(MessageTooLarge) as info:
        parse_message(invite(), max_size=100)
    assert info.value.status == 513
    assert info.value.reason == f"Message too large ({len(invite())} > 100 bytes)"


# --- invalid twins: one line changed, exact reason -------------------------------------------
TWINS: list[tuple[str, bytes, int, str]] = [
    ("cseq-number", invite(("CSeq:", "CSeq: abc INVITE")), 400,
     'Bad CSeq header: "abc INVITE" (expected a sequence number and a method)'),
    ("cseq-32-bits", invite(("CSeq:", "CSeq: 4294967296 INVITE")), 400,
     'Bad CSeq header: "4294967296 INVITE" (over 4294967295)'),
    ("cseq-method", invite(("CSeq:", "CSeq: 314159 BYE")), 400,
     "CSeq method does not match request method"),
    ("call-id-missing", invite(("Call-ID:", None)), 400, "Missing required header: Call-ID"),
    ("via-missing", invite(("Via:", None)), 400, "Missing required header: Via"),
    ("call-id-space", invite(("Call-ID:", "Call-ID: a b")), 400,
     'Bad Call-ID header: "a b" (expected word[@word])'),
    ("call-id-twice", invite(extra=["i: other@h"]), 400, "Duplicate Call-ID header"),
    ("max-forwards-text", invite(("Max-Forwards:", "Max-Forwards: ten")), 400,
     'Bad Max-Forwards header: "ten" (not a number)'),
    ("max-forwards-256", invite(("Max-Forwards:", "Max-Forwards: 256")), 400,
     'Bad Max-Forwards header: "256" (over 255)'),
    ("expires", invite(extra=["Expires: soon"]), 400, 'Bad Expires header: "soon" (not a number)'),
    ("min-expires", invite(extra=["Min-Expires: 1e3"]), 400,
     'Bad Min-Expires header: "1e3" (not a number)'),
    ("content-length-short", invite(("Content-Length", "Content-Length: 5")), 400,
     "Content-Length larger than body"),
    ("content-length-text", invite(("Content-Length", "Content-Length: four")), 400,
     'Bad Content-Length header: "four" (not a number)'),
    ("version", invite(("INVITE", "INVITE sip:bob@biloxi.example.com SIP/2.1")), 505,
     'SIP version not supported: "SIP/2.1"'),
    ("version-garbage", invite(("INVITE", "INVITE sip:bob@biloxi.example.com HTTP/1.1")), 400,
     'Bad SIP version: "HTTP/1.1"'),
    ("scheme", invite(("INVITE", "INVITE http://biloxi.example.com/ SIP/2.0")), 416,
     'Unsupported URI scheme: "http"'),
    ("ruri-headers", invite(("INVITE", "INVITE sip:bob@biloxi.example.com?X=1 SIP/2.0")), 400,
     'Bad Request-URI: "sip:bob@biloxi.example.com?X=1" (URI headers not allowed)'),
    ("method", invite(("INVITE", "INV:TE sip:bob@biloxi.example.com SIP/2.0")), 400,
     'Bad method: "INV:TE"'),
    ("from-quote", invite(("From:", 'From: "Alice <sip:alice@atlanta.example.com>;tag=1')), 400,
     'Bad From header: ""Alice <sip:alice@atlanta.example.com>;tag=1" '
     "(unterminated quoted string)"),
    ("from-tag-twice", invite(("From:", "From: <sip:a@h>;tag=1;tag=2")), 400,
     "Bad From header: \"<sip:a@h>;tag=1;tag=2\" (duplicate parameter 'tag')"),
    ("from-twice", invite(extra=["f: <sip:b@h>;tag=2"]), 400, "Duplicate From header"),
    ("to-trailing", invite(("To:", "To: <sip:bob@h> <sip:eve@h>")), 400,
     'Bad To header: "<sip:bob@h> <sip:eve@h>" (bad parameter at "<sip:eve@h>")'),
    ("contact-star-mixed", invite(("Contact:", "Contact: *, <sip:a@h>")), 400,
     'Bad Contact header: "*, <sip:a@h>" (no URI scheme)'),
    ("contact-angle", invite(("Contact:", "Contact: <sip:a@h")), 400,
     'Bad Contact header: "<sip:a@h" (unterminated quoted string or unbalanced <>)'),
    ("route-addr-spec", invite(extra=["Route: sip:p.example.com;lr"]), 400,
     'Bad Route header: "sip:p.example.com;lr" (route values must be enclosed in <>)'),
    ("header-line", invite(extra=["NoColonHere"]), 400, 'Bad header line: "NoColonHere"'),
    ("header-name", invite(extra=["Bad Name: x"]), 400, 'Bad header line: "Bad Name: x"'),
    ("bare-lf", invite(extra=["X: a\nY: b"]), 400, "Bare CR or LF in header section"),
    ("bad-utf8", invite(extra=["X: caf\xe9"]).replace(b"caf\xc3\xa9", b"caf\xe9"), 400,
     "Header section is not valid UTF-8"),
    ("fold-first", invite(("Via:", " Via: SIP/2.0/UDP h")), 400,
     "Continuation line before the first header"),
    ("no-empty-line", invite()[: invite().index(b"\r\n\r\n") + 1], 400,
     "Header section not terminated by an empty line"),
]


@pytest.mark.parametrize(
    ("name", "data", "status", "reason"), TWINS, ids=[t[0] for t in TWINS]
)
def test_invalid_twin(name: str, data: bytes, status: int, reason: str) -> None:
    error = refused(data)
    assert (error.status, error.reason) == (status, reason)


def test_invalid_response_twins() -> None:
    bad_code = wire(["SIP/2.0 700 Nope", *RESPONSE_LINES[1:]])
    assert refused(bad_code).reason == 'Bad status line: "SIP/2.0 700 Nope"'
    assert refused(wire(["SIP/3.0 200 OK", *RESPONSE_LINES[1:]])).status == 505
    no_cseq = wire([line for line in RESPONSE_LINES if not line.startswith("CSeq")])
    assert refused(no_cseq).reason == "Missing required header: CSeq"
    bare = parse_message(wire(["SIP/2.0 200", *RESPONSE_LINES[1:]]))
    assert isinstance(bare, Response) and (bare.status, bare.reason) == (200, "")


def test_empty_and_crlf_only_datagrams() -> None:
    assert refused(b"").reason == "Empty message"
    assert refused(b"\r\n\r\n").reason == "Empty message"


def test_max_forwards_may_be_absent() -> None:
    """RFC 2543 peers omit it (RFC 4475 §3.4.1); the proxy core decides."""
    assert parse_request(invite(("Max-Forwards", None))).max_forwards is None


def test_reason_phrases_never_carry_control_characters() -> None:
    error = refused(invite(("Call-ID:", "Call-ID: a\x00b")))
    assert error.reason == 'Bad Call-ID header: "a?b" (expected word[@word])'


# --- streams --------------------------------------------------------------------------------
def chunkings(data: bytes) -> Iterator[tuple[str, list[bytes]]]:
    yield "whole", [data]
    yield "byte-by-byte", [data[i : i + 1] for i in range(len(data))]
    yield "halves", [data[: len(data) // 2], data[len(data) // 2 :]]


def drain(parser: StreamParser, chunks: list[bytes]) -> list[Request | Response]:
    out: list[Request | Response] = []
    for chunk in chunks:
        parser.feed(chunk)
        while (message := parser.next_message()) is not None:
            out.append(message)
    return out


@pytest.mark.parametrize("mode", ["whole", "byte-by-byte", "halves"])
def test_stream_one_message(mode: str) -> None:
    chunks = dict(chunkings(invite()))[mode]
    parser = StreamParser()
    [message] = drain(parser, chunks)
    assert comparable(message) == comparable(parse_message(invite()))
    assert parser.buffered == 0


@pytest.mark.parametrize("mode", ["whole", "byte-by-byte", "halves"])
def test_stream_with_trailing_data(mode: str) -> None:
    partial = invite()[:40]
    parser = StreamParser()
    [message] = drain(parser, dict(chunkings(invite() + partial))[mode])
    assert isinstance(message, Request) and parser.buffered == len(partial)
    assert parser.next_message() is None
    [second] = drain(parser, [invite()[40:]])
    assert comparable(second) == comparable(message)


@pytest.mark.parametrize("mode", ["whole", "byte-by-byte", "halves"])
def test_stream_several_messages_and_keepalives(mode: str) -> None:
    response = wire(RESPONSE_LINES)
    data = b"\r\n\r\n" + invite() + b"\r\n\r\n" + response + b"\r\n" + invite() + b"\r\n\r\n"
    parser = StreamParser()
    messages = drain(parser, dict(chunkings(data))[mode])
    assert [type(m).__name__ for m in messages] == ["Request", "Response", "Request"]
    assert (parser.pings, parser.pongs) == (3, 1)
    assert parser.take_pings() == 3 and parser.take_pings() == 0


def test_stream_lone_crlf_waits_for_the_next_bytes() -> None:
    parser = StreamParser()
    parser.feed(b"\r\n")
    assert parser.next_message() is None and (parser.pings, parser.pongs) == (0, 0)
    parser.feed(b"\r\n")
    assert parser.next_message() is None and (parser.pings, parser.pongs) == (1, 0)
    parser.feed(b"\r\nINV")
    assert parser.next_message() is None and (parser.pings, parser.pongs) == (1, 1)


def test_stream_missing_content_length_breaks_the_connection() -> None:
    data = invite(("Content-Length", None))
    parser = StreamParser()
    parser.feed(data)
    with pytest.raises(RemoteProtocolError) as info:
        parser.next_message()
    assert info.value.reason == "Missing Content-Length header (required on streams)"
    assert parser.broken and parser.failed_data() == data[: -len(BODY)]
    parser.feed(invite())
    with pytest.raises(RemoteProtocolError) as again:
        parser.next_message()
    assert again.value is info.value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("-1", 'Bad Content-Length header: "-1" (not a number)'),
        ("99999999999", 'Bad Content-Length header: "99999999999" (over 4294967295)'),
    ],
)
def test_stream_bad_content_length_breaks_the_connection(value: str, reason: str) -> None:
    parser = StreamParser()
    parser.feed(invite(("Content-Length", f"Content-Length: {value}")))
    with pytest.raises(RemoteProtocolError) as info:
        parser.next_message()
    assert info.value.reason == reason and parser.broken


def test_stream_duplicate_content_length_breaks_the_connection() -> None:
    parser = StreamParser()
    parser.feed(invite(extra=["l: 4"]))
    with pytest.raises(RemoteProtocolError, match=r"^Duplicate Content-Length header$"):
        parser.next_message()
    assert parser.broken


def test_stream_header_section_over_max_size() -> None:
    parser = StreamParser(max_size=200)
    parser.feed(b"INVITE sip:a@b SIP/2.0\r\n" + b"X-Padding: " + b"x" * 300)
    with pytest.raises(MessageTooLarge) as info:
        parser.next_message()
    assert info.value.status == 513 and parser.broken


def test_stream_declared_body_over_max_size() -> None:
    data = invite(("Content-Length", "Content-Length: 100000"))
    parser = StreamParser(max_size=65536)
    parser.feed(data)
    with pytest.raises(MessageTooLarge):
        parser.next_message()
    assert parser.broken


def test_stream_error_inside_a_framed_message_is_not_fatal() -> None:
    bad = invite(("From:", "From: nobody"))
    parser = StreamParser()
    parser.feed(bad + invite())
    with pytest.raises(RemoteProtocolError) as info:
        parser.next_message()
    assert info.value.reason == 'Bad From header: "nobody" (no URI scheme)'
    assert not parser.broken and parser.failed_data() == bad
    message = parser.next_message()
    assert isinstance(message, Request) and message.from_.tag == "1928301774"


def test_stream_messages_equal_datagram_messages_for_every_twin() -> None:
    """Whatever a datagram says of a well-framed message, the stream says too."""
    for _, data, status, reason in TWINS:
        if b"Content-Length: 4\r\n" not in data or b"\n" in data.replace(b"\r\n", b""):
            continue
        parser = StreamParser()
        parser.feed(data)
        with pytest.raises(RemoteProtocolError) as info:
            parser.next_message()
        assert (info.value.status, info.value.reason) == (status, reason)


def test_feed_after_break_is_ignored() -> None:
    parser = StreamParser()
    parser.feed(b"garbage\r\n\r\n")
    with pytest.raises(RemoteProtocolError):
        parser.next_message()
    parser.feed(invite())
    assert parser.buffered == 0

