"""Typed values of the headers the stack relies on (RFC 3261 §19.1, §20, §25.1).

Each parser takes the unfolded, trimmed header value and returns the list of
values it holds (one for single-valued headers).  Faults raise
:class:`~media.sip.grammar.GrammarError`; :mod:`media.sip.parser` names the
header in the ``RemoteProtocolError`` it makes of it.
"""

from __future__ import annotations

from collections.abc import Callable

from .grammar import (
    ABSOLUTE_URI_REST_RE,
    CALLID_RE,
    CSEQ_RE,
    DIGITS_RE,
    NAME_ADDR_RE,
    SCHEME_RE,
    SIP_URI_REST_RE,
    VIA_RE,
    WSP,
    GrammarError,
    parse_host,
    parse_params,
    parse_port,
    split_list,
    unquote,
)
from .headers import ContactStar, CSeq, HeaderValue, NameAddr, Via
from .uri import SipUri

SIP_SCHEMES = frozenset({"sip", "sips"})
MAX_UINT32 = 2**32 - 1
MAX_FORWARDS_LIMIT = 255  # §8.1.1.6: Max-Forwards is 0-255

#: Headers that may appear once only: a second value makes the message ambiguous
#: (RFC 4475 §3.3.8 multi01, §3.3.9 mcl01).  Lower-case canonical names.
SINGLETONS = frozenset(
    {"from", "to", "call-id", "cseq", "max-forwards", "content-length", "content-type"}
)


# --- URIs (§19.1) --------------------------------------------------------------------
def uri(text: str) -> SipUri:
    """``sip:``/``sips:`` URIs in full; other schemes (``tel:``) keep their text in ``user``."""
    match = SCHEME_RE.match(text)
    if match is None:
        raise GrammarError("no URI scheme")
    scheme = match.group(1).lower()
    rest = text[match.end() :]
    if scheme in SIP_SCHEMES:
        return _sip_uri(scheme, rest)
    if ABSOLUTE_URI_REST_RE.fullmatch(rest) is None:
        raise GrammarError(f"malformed {scheme} URI")
    return SipUri(host="", user=rest, scheme=scheme)


def _sip_uri(scheme: str, rest: str) -> SipUri:
    match = SIP_URI_REST_RE.fullmatch(rest)
    if match is None:
        raise GrammarError(f"malformed {scheme} URI")
    port = match.group("port")
    return SipUri(
        host=parse_host(match.group("host")),
        user=match.group("user"),
        password=match.group("password"),
        port=None if port is None else parse_port(port),
        scheme=scheme,
        params=_uri_params(match.group("params")),
        headers=_uri_headers(match.group("headers")),
    )


def _uri_params(text: str) -> dict[str, str | None]:
    """``;lr;transport=tcp`` (already checked by the URI regex) -> params dict."""
    params: dict[str, str | None] = {}
    for item in text.split(";")[1:]:
        name, sep, value = item.partition("=")
        name = name.lower()
        if name in params:
            raise GrammarError(f"duplicate URI parameter {name!r}")
        params[name] = value if sep else None
    return params


def _uri_headers(text: str | None) -> dict[str, str]:
    """``?Subject=x&Priority=urgent`` -> dict (a repeated hname keeps its last value)."""
    if not text:
        return {}
    return dict(item.partition("=")[::2] for item in text.split("&"))


# --- Via (§20.42) --------------------------------------------------------------------
def via(text: str) -> Via:
    """One via-parm: ``SIP / 2.0 / UDP host:port ;params``."""
    match = VIA_RE.match(text)
    if match is None:
        raise GrammarError("expected SIP/2.0/transport sent-by")
    name, version, transport, host, port = match.groups()
    if name.upper() != "SIP" or version != "2.0":
        raise GrammarError(f"unsupported protocol {name}/{version}")
    return Via(
        transport=transport.upper(),
        host=parse_host(host),
        port=None if port is None else parse_port(port),
        params=parse_params(text[match.end() :].strip(WSP)),
    )


def via_list(value: str) -> list[HeaderValue]:
    return [via(item) for item in split_list(value)]


# --- name-addr / addr-spec (§20.10, §20.20, §20.39) ----------------------------------
def name_addr(text: str) -> NameAddr:
    """``"Display" <uri>;params``, ``token token <uri>``, or a bare addr-spec.

    §20.10: after a bare addr-spec, every ``;param`` belongs to the header, and
    a URI holding a comma, question mark or semicolon must be in ``<>``.
    """
    match = NAME_ADDR_RE.match(text)
    if match is None:
        return _addr_spec(text)
    quoted, tokens, uri_text = match.groups()
    if " " in uri_text or "\t" in uri_text:
        raise GrammarError("white space inside <>")
    if quoted is not None:
        display: str | None = unquote(quoted)
    else:
        display = " ".join(tokens.split()) if tokens else None
    params = parse_params(text[match.end() :].strip(WSP))
    return NameAddr(uri(uri_text), display, params)


def _addr_spec(text: str) -> NameAddr:
    if text.startswith('"'):
        raise GrammarError("unterminated quoted string")
    if "<" in text or ">" in text:
        raise GrammarError("display name must be tokens or a quoted string, then <uri>")
    uri_text, sep, rest = text.partition(";")
    uri_text = uri_text.strip(WSP)
    if "?" in uri_text or "," in uri_text:
        raise GrammarError("a URI with headers or commas must be enclosed in <>")
    if " " in uri_text or "\t" in uri_text:
        raise GrammarError("white space in addr-spec")
    return NameAddr(uri(uri_text), None, parse_params((sep + rest).strip(WSP)))


def name_addr_value(value: str) -> list[HeaderValue]:
    return [name_addr(value)]


def contact_list(value: str) -> list[HeaderValue]:
    """Contact (§20.10): ``*`` alone, or a list of name-addr / addr-spec values."""
    if value == "*":
        return [ContactStar()]
    return [name_addr(item) for item in split_list(value)]


def route_list(value: str) -> list[HeaderValue]:
    """Route / Record-Route (§20.30, §20.34): name-addr only, so ``;lr`` stays in the URI."""
    values: list[HeaderValue] = []
    for item in split_list(value):
        if NAME_ADDR_RE.match(item) is None:
            raise GrammarError("route values must be enclosed in <>")
        values.append(name_addr(item))
    return values


# --- scalars (§20.8, §20.16, §20.14, §20.19, §20.22, §20.23) -------------------------
def cseq(value: str) -> list[HeaderValue]:
    """CSeq = 1*DIGIT LWS Method; the number must fit in 32 bits (§8.1.1.5)."""
    match = CSEQ_RE.fullmatch(value)
    if match is None:
        raise GrammarError("expected a sequence number and a method")
    return [CSeq(_bounded_int(match.group(1), MAX_UINT32), match.group(2))]


def call_id(value: str) -> list[HeaderValue]:
    """Call-ID = word ["@" word]."""
    if CALLID_RE.fullmatch(value) is None:
        raise GrammarError("expected word[@word]")
    return [value]


def uint32(value: str) -> list[HeaderValue]:
    """Content-Length, Expires, Min-Expires: 1*DIGIT up to 2**32-1."""
    return [_bounded_int(value, MAX_UINT32)]


def max_forwards(value: str) -> list[HeaderValue]:
    return [_bounded_int(value, MAX_FORWARDS_LIMIT)]


def _bounded_int(text: str, limit: int) -> int:
    """1*DIGIT (leading zeros allowed, RFC 4475 §3.1.1.1), at most ``limit``."""
    if DIGITS_RE.fullmatch(text) is None:
        raise GrammarError("not a number")
    digits = text.lstrip("0") or "0"
    if len(digits) > 10 or int(digits) > limit:  # 10 digits: int() stays cheap and safe
        raise GrammarError(f"over {limit}")
    return int(digits)


#: Typed headers by lower-case canonical name; every other header stays a str.
HEADER_PARSERS: dict[str, Callable[[str], list[HeaderValue]]] = {
    "via": via_list,
    "from": name_addr_value,
    "to": name_addr_value,
    "reply-to": name_addr_value,
    "contact": contact_list,
    "route": route_list,
    "record-route": route_list,
    "cseq": cseq,
    "call-id": call_id,
    "max-forwards": max_forwards,
    "content-length": uint32,
    "expires": uint32,
    "min-expires": uint32,
}
