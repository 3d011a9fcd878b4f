"""The SIP grammar in one place: RFC 3261 §25 ABNF as character classes and regexes.

Names follow the ABNF rules (``token``, ``word``, ``quoted-string``,
``hostport``, ``uri-parameters`` ...).  Everything here works on text that the
parser has already unfolded (§7.3.1: a CRLF followed by SP/HTAB is LWS and is
replaced by one SP), so ``LWS``/``SWS`` reduce to runs of SP and HTAB.

Value parsers raise :class:`GrammarError` with a short description of the
fault; :mod:`media.sip.parser` turns it into a ``RemoteProtocolError`` that
names the header it came from.
"""

from __future__ import annotations

import ipaddress
import re


class GrammarError(ValueError):
    """Text that does not match its ABNF rule (internal; see the module docstring)."""


# --- core rules (§25.1, RFC 2234) -------------------------------------------------
ALPHANUM = "A-Za-z0-9"
MARK = r"\-_.!~*'()"
UNRESERVED = ALPHANUM + MARK
ESCAPED = "%[0-9A-Fa-f]{2}"
WSP = " \t"
SWS = "[ \t]*"  # SWS = [LWS], once unfolded
LWS = "[ \t]+"

#: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
TOKEN_CHARS = ALPHANUM + r"\-.!%*_+`'~"
TOKEN = f"[{TOKEN_CHARS}]+"
#: word adds "(" ")" "<" ">" ":" "\" DQUOTE "/" "[" "]" "?" "{" "}" to token
WORD = f'[{TOKEN_CHARS}()<>:\\\\"/\\[\\]?{{}}]+'
#: quoted-string = SWS DQUOTE *(qdtext / quoted-pair) DQUOTE.  qdtext is read
#: liberally (anything but DQUOTE and "\"; CR/LF never survive unfolding) so a
#: display name with a control character round-trips (see NameAddr.__str__).
QUOTED_STRING = r'"(?:[^"\\]|\\.)*"'
#: gen-value = token / host / quoted-string (host adds ":" "[" "]" for IPv6)
GEN_VALUE = f"(?:{QUOTED_STRING}|[{TOKEN_CHARS}:\\[\\]]+)"

# --- URIs (§19.1, §25.1) -------------------------------------------------------------
#: user = 1*(unreserved / escaped / user-unreserved)
USER = f"(?:[{UNRESERVED}&=+$,;?/]|{ESCAPED})+"
#: password = *(unreserved / escaped / "&" / "=" / "+" / "$" / ",")
PASSWORD = f"(?:[{UNRESERVED}&=+$,]|{ESCAPED})*"
DOMAINLABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
TOPLABEL = "[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
HOSTNAME = rf"(?:{DOMAINLABEL}\.)*{TOPLABEL}\.?"
IPV4ADDRESS = r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}"
#: IPv6reference = "[" IPv6address "]"; the address itself is checked by ipaddress
IPV6REFERENCE = r"\[[0-9A-Fa-f:.]+\]"
HOST = f"(?:{IPV6REFERENCE}|{IPV4ADDRESS}|{HOSTNAME})"
PORT = "[0-9]{1,5}"
#: paramchar = param-unreserved / unreserved / escaped
PARAMCHAR = f"(?:[\\[\\]/:&+${UNRESERVED}]|{ESCAPED})"
#: hnv-unreserved / unreserved / escaped (hname and hvalue of URI headers)
HNVCHAR = f"(?:[\\[\\]/?:+${UNRESERVED}]|{ESCAPED})"
SCHEME = "[A-Za-z][A-Za-z0-9+.-]*"
#: uric = reserved / unreserved / escaped (the rest of an absoluteURI)
URIC = f"(?:[;/?:@&=+$,{UNRESERVED}]|{ESCAPED})"

SCHEME_RE = re.compile(f"({SCHEME}):")
#: what follows "sip:" / "sips:" (SIP-URI minus its scheme)
SIP_URI_REST_RE = re.compile(
    f"(?:(?P<user>{USER})(?::(?P<password>{PASSWORD}))?@)?"
    f"(?P<host>{HOST})(?::(?P<port>{PORT}))?"
    f"(?P<params>(?:;{PARAMCHAR}+(?:={PARAMCHAR}+)?)*)"
    f"(?:\\?(?P<headers>{HNVCHAR}+={HNVCHAR}*(?:&{HNVCHAR}+={HNVCHAR}*)*))?"
)
ABSOLUTE_URI_REST_RE = re.compile(f"{URIC}+")
HOST_RE = re.compile(HOST)

# --- messages (§7, §25.1) -------------------------------------------------------------
TOKEN_RE = re.compile(TOKEN)
#: SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT (literal text is case-insensitive)
SIP_VERSION_RE = re.compile(r"SIP/([0-9]+)\.([0-9]+)", re.IGNORECASE)
#: message-header: header-name HCOLON value (HCOLON = *(SP / HTAB) ":" SWS)
HEADER_LINE_RE = re.compile(f"({TOKEN}){SWS}:{SWS}(.*)", re.DOTALL)
#: Call-ID: callid = word ["@" word]
CALLID_RE = re.compile(f"{WORD}(?:@{WORD})?")
#: CSeq: 1*DIGIT LWS Method
CSEQ_RE = re.compile(f"([0-9]+){LWS}({TOKEN})")
DIGITS_RE = re.compile("[0-9]+")
STATUS_CODE_RE = re.compile("[1-6][0-9][0-9]")

# --- header values (§20, §25.1) -------------------------------------------------------
#: one generic-param after SEMI: SWS ";" SWS token [EQUAL gen-value]
GENERIC_PARAM_RE = re.compile(f"{SWS};{SWS}({TOKEN})(?:{SWS}={SWS}({GEN_VALUE}))?{SWS}", re.DOTALL)
#: via-parm up to its parameters: sent-protocol LWS sent-by
VIA_RE = re.compile(
    f"{SWS}({TOKEN}){SWS}/{SWS}({TOKEN}){SWS}/{SWS}({TOKEN}){LWS}"
    f"({IPV6REFERENCE}|[^ \t;:,\\[\\]]+)(?:{SWS}:{SWS}([0-9]+))?",
)
#: name-addr = [display-name] LAQUOT addr-spec RAQUOT, display-name = *(token LWS) / quoted-string
#: (LWS before "<" is optional here: RFC 4475 §3.1.1.6 calls requiring it a spec bug)
NAME_ADDR_RE = re.compile(
    f"{SWS}(?:({QUOTED_STRING})|({TOKEN}(?:{LWS}{TOKEN})*))?{SWS}<([^<>]*)>",
    re.DOTALL,
)
#: one element of a comma-separated header list; commas inside quotes or <> do not split
LIST_ELEMENT_RE = re.compile(f'(?:{QUOTED_STRING}|<[^<>]*>|[^,"<>])*', re.DOTALL)
_QUOTED_PAIR_RE = re.compile(r"\\(.)", re.DOTALL)
_UNSAFE_RE = re.compile("[\x00-\x1f\x7f]")


def unquote(quoted: str) -> str:
    """The text of a quoted-string (with its DQUOTEs), quoted-pairs resolved."""
    return _QUOTED_PAIR_RE.sub(r"\1", quoted[1:-1])


def join_folded(value: str, continuation: str) -> str:
    """Unfold one continuation line (§7.3.1): the LWS becomes a single SP."""
    return f"{value.rstrip(WSP)} {continuation.lstrip(WSP)}"


def split_list(value: str) -> list[str]:
    """Split ``a, b, c`` on the commas outside quoted strings and ``<...>``.

    Raises :class:`GrammarError` on an unterminated quote or unbalanced ``<>``.
    """
    items: list[str] = []
    pos, end = 0, len(value)
    while True:
        match = LIST_ELEMENT_RE.match(value, pos)
        stop = match.end() if match else pos
        items.append(value[pos:stop])
        if stop == end:
            return items
        if value[stop] != ",":
            raise GrammarError("unterminated quoted string or unbalanced <>")
        pos = stop + 1


def parse_params(text: str) -> dict[str, str | None]:
    """``;name=value;flag`` -> ``{"name": "value", "flag": None}`` (names lower-cased).

    Values are kept as received (a quoted-string keeps its quotes).  A
    parameter may appear once only: a repeated one (two tags) is ambiguous.
    """
    params: dict[str, str | None] = {}
    pos, end = 0, len(text)
    while pos < end:
        match = GENERIC_PARAM_RE.match(text, pos)
        if match is None:
            raise GrammarError(f"bad parameter at {show(text[pos:], 30)}")
        name = match.group(1).lower()
        if name in params:
            raise GrammarError(f"duplicate parameter {name!r}")
        params[name] = match.group(2)
        pos = match.end()
    return params


def parse_host(text: str) -> str:
    """A host (hostname, IPv4address or IPv6reference), IPv6 returned without brackets."""
    if HOST_RE.fullmatch(text) is None:
        raise GrammarError(f"bad host {show(text, 40)}")
    if text.startswith("["):
        try:
            ipaddress.IPv6Address(text[1:-1])
        except ValueError:
            raise GrammarError(f"bad IPv6 address {show(text, 50)}") from None
        return text[1:-1]
    return text


def parse_port(text: str) -> int:
    """A port number, 0-65535 (``port = 1*DIGIT``; longer strings are refused)."""
    if len(text) > 5 or DIGITS_RE.fullmatch(text) is None or int(text) > 65535:
        raise GrammarError(f"bad port {show(text, 10)}")
    return int(text)


def show(text: str, limit: int = 60) -> str:
    """``text`` quoted for a reason phrase: shortened, control characters as ``?``."""
    if len(text) > limit:
        text = text[:limit] + "..."
    return '"' + _UNSAFE_RE.sub("?", text) + '"'
