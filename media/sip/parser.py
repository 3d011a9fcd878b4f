"""Bytes -> :class:`Request` / :class:`Response` (RFC 3261 §7, §18.3), sans I/O.

Two entry points share one pipeline (split the header section, unfold, type
the headers, check what every message needs):

* :func:`parse_message` takes one whole UDP datagram.  A Content-Length
  longer than what arrived is an error; bytes after the declared body are
  discarded (§18.3); without Content-Length the body is the rest.
* :class:`StreamParser` frames TCP/TLS streams by the Content-Length that
  streams must carry.

Every fault in the peer's bytes raises :class:`RemoteProtocolError` (its
``reason`` names the fault, its ``status`` is the response to send); no other
exception escapes, whatever the input.

Decisions (RFC 4475 leaves some to the implementer):

* The start line is strict: single SP separators, no LWS inside the
  Request-URI, no ``<>`` around it (§3.1.2.7-§3.1.2.10 -> 400).  A Request-URI
  scheme other than sip/sips/tel is 416; headers in a SIP Request-URI are 400.
* Max-Forwards may be absent (RFC 2543 peers, §3.4.1 of RFC 4475); when present
  it must be 0-255.
* Lines end in CRLF; a bare CR or LF in the header section is refused.  A
  datagram whose header section ends with a CRLF but lacks the empty line is
  read as having no body (the datagram's end is the message's end).
* The CSeq method must equal the request method, for every method (400).
* From, To, Call-ID, CSeq, Max-Forwards, Content-Length and Content-Type may
  appear once; a parameter name once per value (two tags are ambiguous);
  Route/Record-Route values must be ``<uri>`` so ``;lr`` cannot move.
* Counters (CSeq, Content-Length, Expires, Min-Expires) are 0 to 2**32-1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn, cast

from . import header_parsers
from .errors import MessageTooLarge, RemoteProtocolError
from .grammar import (
    HEADER_LINE_RE,
    SCHEME_RE,
    SIP_VERSION_RE,
    STATUS_CODE_RE,
    TOKEN_RE,
    WSP,
    GrammarError,
    join_folded,
    show,
)
from .header_parsers import HEADER_PARSERS, SINGLETONS
from .headers import CSeq, Headers, HeaderValue, NameAddr, Via, canonical_name
from .message import Request, Response
from .uri import SipUri

__all__ = ["StreamParser", "parse_message", "parse_name_addr", "parse_uri", "parse_via"]

MAX_SIZE = 65536
REQUEST_URI_SCHEMES = frozenset({"sip", "sips", "tel"})
REQUIRED_HEADERS = ("Via", "From", "To", "Call-ID", "CSeq")  # §8.1.1; responses alike
_END_OF_HEADERS = b"\r\n\r\n"


@dataclass(slots=True)
class _Head:
    """A header section split into its start line and unfolded header fields."""

    start: str
    fields: list[tuple[str, str]]  # (canonical name, trimmed value), in order


# --- public value parsers ------------------------------------------------------------
def parse_uri(text: str) -> SipUri:
    """Parse a URI (§19.1): sip/sips in full, other schemes (``tel:``) as scheme + text.

    Raises :class:`RemoteProtocolError` (400) when ``text`` is not a URI.
    """
    try:
        return header_parsers.uri(text)
    except GrammarError as exc:
        raise RemoteProtocolError(f"Bad URI: {show(text)} ({exc})") from None


def parse_name_addr(text: str) -> NameAddr:
    """Parse a From/To/Contact-style value: name-addr or addr-spec plus ``;params``."""
    try:
        return header_parsers.name_addr(text.strip(WSP))
    except GrammarError as exc:
        raise RemoteProtocolError(f"Bad address: {show(text)} ({exc})") from None


def parse_via(text: str) -> list[Via]:
    """Parse a Via header value, possibly holding several comma-separated via-parms."""
    try:
        return cast(list[Via], header_parsers.via_list(text.strip(WSP)))
    except GrammarError as exc:
        raise RemoteProtocolError(f"Bad Via header: {show(text)} ({exc})") from None


# --- datagrams -----------------------------------------------------------------------
def parse_message(data: bytes, *, max_size: int = MAX_SIZE) -> Request | Response:
    """Parse one whole datagram into a :class:`Request` or :class:`Response`.

    Raises :class:`MessageTooLarge` over ``max_size`` bytes and
    :class:`RemoteProtocolError` for anything malformed.
    """
    if len(data) > max_size:
        raise MessageTooLarge(len(data), max_size)
    start = _skip_crlfs(data)
    end = data.find(_END_OF_HEADERS, start)
    if end >= 0:
        body_start = end + 4
    elif start < len(data) and data.endswith(b"\r\n"):
        end = body_start = len(data) - 2
    elif start == len(data):
        raise RemoteProtocolError("Empty message")
    else:
        raise RemoteProtocolError("Header section not terminated by an empty line")
    message = _build(_split_head(data[start:end]))
    message.body = _datagram_body(message, data[body_start:])
    return message


def _skip_crlfs(data: bytes) -> int:
    """Offset past the CRLFs that may precede a start line (§7.5, keep-alives)."""
    start = 0
    while data.startswith(b"\r\n", start):
        start += 2
    return start


def _datagram_body(message: Request | Response, rest: bytes) -> bytes:
    length = cast("int | None", message.headers.get("Content-Length"))
    if length is None:
        return rest
    if length > len(rest):
        raise RemoteProtocolError("Content-Length larger than body")
    return rest[:length]


# --- the header section ----------------------------------------------------------------
def _split_head(raw: bytes) -> _Head:
    """Decode, check line ends, split the start line from the unfolded header fields."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RemoteProtocolError("Header section is not valid UTF-8") from None
    crlfs = text.count("\r\n")
    if text.count("\r") != crlfs or text.count("\n") != crlfs:
        raise RemoteProtocolError("Bare CR or LF in header section")
    lines = text.split("\r\n")
    return _Head(lines[0], _header_fields(lines[1:]))


def _header_fields(lines: list[str]) -> list[tuple[str, str]]:
    """``name: value`` lines -> (canonical name, value), folding undone (§7.3.1)."""
    names: list[str] = []
    values: list[str] = []
    for line in lines:
        if line[:1] in (" ", "\t"):
            if not values:
                raise RemoteProtocolError("Continuation line before the first header")
            values[-1] = join_folded(values[-1], line)
            continue
        match = HEADER_LINE_RE.fullmatch(line)
        if match is None:
            raise RemoteProtocolError(f"Bad header line: {show(line)}")
        names.append(match.group(1))
        values.append(match.group(2))
    return [(canonical_name(n), v.strip(WSP)) for n, v in zip(names, values, strict=True)]


def _typed_headers(fields: list[tuple[str, str]]) -> tuple[Headers, set[str]]:
    """Parse each known header into its typed value(s); return them and the names seen."""
    items: list[tuple[str, HeaderValue]] = []
    seen: set[str] = set()
    for name, value in fields:
        key = name.lower()
        if key in SINGLETONS and key in seen:
            raise RemoteProtocolError(f"Duplicate {name} header")
        seen.add(key)
        parse = HEADER_PARSERS.get(key)
        if parse is None:
            items.append((name, value))
            continue
        try:
            items.extend((name, typed) for typed in parse(value))
        except GrammarError as exc:
            raise RemoteProtocolError(f"Bad {name} header: {show(value)} ({exc})") from None
    return Headers(items), seen


# --- start lines and whole messages ------------------------------------------------------
def _build(head: _Head) -> Request | Response:
    """The message of a header section (its body is filled in by the caller)."""
    if head.start[:4].upper() == "SIP/":
        status, reason = _status_line(head.start)
        headers, seen = _typed_headers(head.fields)
        _check_required(seen)
        return Response(status, reason, headers)
    method, uri = _request_line(head.start)
    headers, seen = _typed_headers(head.fields)
    _check_required(seen)
    if cast(CSeq, headers.get("CSeq")).method != method:
        raise RemoteProtocolError("CSeq method does not match request method")
    return Request(method, uri, headers)


def _request_line(line: str) -> tuple[str, SipUri]:
    """Request-Line = Method SP Request-URI SP SIP-Version (§7.1), single SPs only."""
    parts = line.split(" ")
    if len(parts) != 3 or not all(parts):
        raise RemoteProtocolError(
            f"Bad request line: {show(line)} (expected Method SP Request-URI SP SIP-Version)"
        )
    method, target, version = parts
    if TOKEN_RE.fullmatch(method) is None:
        raise RemoteProtocolError(f"Bad method: {show(method)}")
    _check_version(version)
    return method, _request_uri(target)


def _request_uri(text: str) -> SipUri:
    scheme = SCHEME_RE.match(text)
    if scheme is None:
        fault = "a Request-URI is never enclosed in <>" if text.startswith("<") else "no URI scheme"
        raise RemoteProtocolError(f"Bad Request-URI: {show(text)} ({fault})")
    if scheme.group(1).lower() not in REQUEST_URI_SCHEMES:
        raise RemoteProtocolError(f"Unsupported URI scheme: {show(scheme.group(1), 30)}", 416)
    try:
        uri = header_parsers.uri(text)
    except GrammarError as exc:
        raise RemoteProtocolError(f"Bad Request-URI: {show(text)} ({exc})") from None
    if uri.headers:  # §19.1.1 table 1: headers are not allowed in a Request-URI
        raise RemoteProtocolError(f"Bad Request-URI: {show(text)} (URI headers not allowed)")
    return uri


def _status_line(line: str) -> tuple[int, str]:
    """Status-Line = SIP-Version SP Status-Code SP Reason-Phrase (§7.2).

    The SP before an empty reason phrase may be missing (RFC 4475 §3.1.1.13).
    """
    version, _, rest = line.partition(" ")
    _check_version(version)
    code, _, reason = rest.partition(" ")
    if STATUS_CODE_RE.fullmatch(code) is None:
        raise RemoteProtocolError(f"Bad status line: {show(line)}")
    return int(code), reason


def _check_version(text: str) -> None:
    match = SIP_VERSION_RE.fullmatch(text)
    if match is None:
        raise RemoteProtocolError(f"Bad SIP version: {show(text, 20)}")
    major, minor = match.groups()
    if major.lstrip("0") != "2" or minor.lstrip("0") != "":
        raise RemoteProtocolError(f"SIP version not supported: {show(text, 20)}", 505)


def _check_required(seen: set[str]) -> None:
    missing = [name for name in REQUIRED_HEADERS if name.lower() not in seen]
    if len(missing) == 1:
        raise RemoteProtocolError(f"Missing required header: {missing[0]}")
    if missing:
        raise RemoteProtocolError(f"Missing required headers: {', '.join(missing)}")


# --- streams ----------------------------------------------------------------------------
@dataclass(slots=True)
class _Frame:
    """A parsed header section waiting for its body: where the body starts and ends."""

    head: _Head
    body_start: int
    total: int


class StreamParser:
    """Frames SIP messages on a stream transport (TCP, TLS; RFC 3261 §18.3).

    Feed it bytes as they arrive and call :meth:`next_message` until it
    returns None (more data needed).  CRLFs before a start line are skipped
    (§7.5); a double CRLF is an RFC 5626 §3.5.1 keep-alive *ping*, which
    :meth:`take_pings` reports so the transport answers each with one CRLF
    *pong*; a single CRLF counts in :attr:`pongs`.  A lone CRLF at the end of
    the buffer is held until the next bytes show which of the two it is.

    Errors come in two kinds, both :class:`RemoteProtocolError`:

    * framing errors (missing or bad Content-Length, header section over
      ``max_size`` or undecodable): :attr:`broken` becomes True, the stream
      cannot be resynchronised, and every later call raises the same error.
      **The transport must close the connection** (after answering the
      request in :meth:`failed_data` if it can).
    * errors inside a well-framed message (a bad From header ...): the message
      is consumed, :meth:`failed_data` holds its bytes, and parsing may go on.
    """

    def __init__(self, *, max_size: int = MAX_SIZE) -> None:
        self.max_size = max_size
        self.broken = False
        self.pings = 0  #: double-CRLF pings received (total)
        self.pongs = 0  #: single-CRLF pongs received (total)
        self._unanswered = 0
        self._buffer = bytearray()
        self._scan = 0  # where to resume looking for the end of the header section
        self._frame: _Frame | None = None
        self._error: RemoteProtocolError | None = None
        self._failed = b""

    def feed(self, data: bytes) -> None:
        """Append bytes received from the peer (ignored once :attr:`broken`)."""
        if not self.broken:
            self._buffer += data

    def next_message(self) -> Request | Response | None:
        """The next complete message, or None when more data is needed."""
        if self._error is not None:
            raise self._error
        if self._frame is None:
            self._frame = self._next_frame()
            if self._frame is None:
                return None
        frame = self._frame
        if len(self._buffer) < frame.total:
            return None
        data = bytes(self._buffer[: frame.total])
        del self._buffer[: frame.total]
        self._frame, self._scan = None, 0
        try:
            message = _build(frame.head)
        except RemoteProtocolError:
            self._failed = data
            raise
        message.body = data[frame.body_start :]
        return message

    def take_pings(self) -> int:
        """Pings received since the last call; answer each with ``b"\\r\\n"``."""
        count, self._unanswered = self._unanswered, 0
        return count

    def failed_data(self) -> bytes:
        """The bytes of the message (or header section) behind the last error."""
        return self._failed

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as a message."""
        return len(self._buffer)

    def _next_frame(self) -> _Frame | None:
        if not self._skip_keepalives():
            return None
        buffer = self._buffer
        end = buffer.find(_END_OF_HEADERS, self._scan)
        if end < 0:
            if len(buffer) > self.max_size:
                self._fail(MessageTooLarge(len(buffer), self.max_size), bytes(buffer))
            self._scan = max(0, len(buffer) - 3)
            return None
        raw = bytes(buffer[: end + 4])
        if end + 4 > self.max_size:
            self._fail(MessageTooLarge(end + 4, self.max_size), raw)
        try:
            head = _split_head(raw[:end])
            length = _stream_content_length(head)
        except RemoteProtocolError as exc:
            self._fail(exc, raw)
        if end + 4 + length > self.max_size:
            self._fail(MessageTooLarge(end + 4 + length, self.max_size), raw)
        return _Frame(head, end + 4, end + 4 + length)

    def _skip_keepalives(self) -> bool:
        """Drop CRLFs before a start line, counting pings and pongs; True if data is left."""
        buffer = self._buffer
        while buffer[:2] == b"\r\n":
            if buffer[:4] == b"\r\n\r\n":
                del buffer[:4]
                self.pings += 1
                self._unanswered += 1
            elif len(buffer) < 4 and b"\r\n\r\n".startswith(buffer):
                return False  # a ping or a pong: the next bytes will tell
            else:
                del buffer[:2]
                self.pongs += 1
        return bool(buffer) and buffer != b"\r"

    def _fail(self, error: RemoteProtocolError, data: bytes) -> NoReturn:
        self.broken = True
        self._error = error
        self._failed = data
        self._buffer.clear()
        raise error


def _stream_content_length(head: _Head) -> int:
    """Content-Length frames stream messages, so it is required there (§18.3, §20.14)."""
    values = [value for name, value in head.fields if name == "Content-Length"]
    if not values:
        raise RemoteProtocolError("Missing Content-Length header (required on streams)")
    if len(values) > 1:
        raise RemoteProtocolError("Duplicate Content-Length header")
    try:
        return cast(int, header_parsers.uint32(values[0])[0])
    except GrammarError as exc:
        raise RemoteProtocolError(f"Bad Content-Length header: {show(values[0])} ({exc})") from None
