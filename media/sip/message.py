"""SIP requests and responses as objects (RFC 3261 §7), and their wire form.

Parsing lives in :mod:`media.sip.parser` (the grammar in one place); this
module holds the values, typed accessors for the headers every layer needs,
serialization, and :func:`make_response` (§8.2.6).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from .headers import CSeq, Headers, HeaderValue, NameAddr, Via
from .uri import SipUri

REASON_PHRASES = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
    183: "Session Progress", 200: "OK", 202: "Accepted", 301: "Moved Permanently",
    302: "Moved Temporarily", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    407: "Proxy Authentication Required", 408: "Request Timeout", 415: "Unsupported Media Type",
    416: "Unsupported URI Scheme", 420: "Bad Extension", 423: "Interval Too Brief",
    480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist",
    482: "Loop Detected", 483: "Too Many Hops", 484: "Address Incomplete", 486: "Busy Here",
    487: "Request Terminated", 488: "Not Acceptable Here", 491: "Request Pending",
    500: "Server Internal Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Server Time-out", 505: "Version Not Supported",
    513: "Message Too Large", 600: "Busy Everywhere", 603: "Decline",
}

#: Headers a response copies from its request (§8.2.6.2).
_COPIED_TO_RESPONSE = ("Via", "From", "Call-ID", "CSeq")


class _Message:
    """What requests and responses share: headers, body, typed accessors."""

    headers: Headers
    body: bytes

    @property
    def vias(self) -> list[Via]:
        return cast(list[Via], self.headers.get_all("Via"))

    @property
    def via(self) -> Via:
        """The top Via (the parser guarantees there is one)."""
        return cast(Via, self.headers.get("Via"))

    @property
    def from_(self) -> NameAddr:
        return cast(NameAddr, self.headers.get("From"))

    @property
    def to(self) -> NameAddr:
        return cast(NameAddr, self.headers.get("To"))

    @property
    def call_id(self) -> str:
        return cast(str, self.headers.get("Call-ID"))

    @property
    def cseq(self) -> CSeq:
        return cast(CSeq, self.headers.get("CSeq"))

    @property
    def contacts(self) -> list[NameAddr]:
        return cast(list[NameAddr], self.headers.get_all("Contact"))

    @property
    def record_routes(self) -> list[NameAddr]:
        return cast(list[NameAddr], self.headers.get_all("Record-Route"))

    @property
    def content_type(self) -> str | None:
        value = self.headers.get("Content-Type")
        return None if value is None else str(value).split(";", 1)[0].strip().lower()

    def header_lines(self) -> bytes:
        """All headers, Content-Length last and always equal to the body's length."""
        lines = [f"{name}: {value}\r\n" for name, value in self.headers if name != "Content-Length"]
        lines.append(f"Content-Length: {len(self.body)}\r\n\r\n")
        return "".join(lines).encode("utf-8")


@dataclass(eq=False)
class Request(_Message):
    """A SIP request.  ``bytes(request)`` is its wire form."""

    method: str
    uri: SipUri
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    @property
    def max_forwards(self) -> int | None:
        value = self.headers.get("Max-Forwards")
        return None if value is None else int(cast(int, value))

    @property
    def routes(self) -> list[NameAddr]:
        return cast(list[NameAddr], self.headers.get_all("Route"))

    def __bytes__(self) -> bytes:
        return f"{self.method} {self.uri} SIP/2.0\r\n".encode() + self.header_lines() + self.body

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.uri} call-id={self.call_id!r}>"


@dataclass(eq=False)
class Response(_Message):
    """A SIP response.  ``bytes(response)`` is its wire form."""

    status: int
    reason: str = ""
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    @property
    def is_provisional(self) -> bool:
        return self.status < 200

    def __bytes__(self) -> bytes:
        return f"SIP/2.0 {self.status} {self.reason}\r\n".encode() + self.header_lines() + self.body

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.reason} call-id={self.call_id!r}>"


Message = Request | Response


def make_response(
    request: Request,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    headers: list[tuple[str, HeaderValue]] | None = None,
    body: bytes = b"",
) -> Response:
    """Build a response to ``request`` as §8.2.6 says.

    Via (all values, in order), From, Call-ID and CSeq are copied; To is
    copied and gets ``to_tag`` unless it already has a tag (§8.2.6.2: the
    100 Trying may carry no tag, so the caller passes none for it).
    """
    out = Headers()
    for name in _COPIED_TO_RESPONSE[:2]:
        for value in request.headers.get_all(name):
            out.add(name, value)
    to = request.to
    if to_tag is not None and to.tag is None:
        to = to.with_tag(to_tag)
    out.add("To", to)
    for name in _COPIED_TO_RESPONSE[2:]:
        out.add(name, cast(HeaderValue, request.headers.get(name)))
    if status == 100 and "Timestamp" in request.headers:  # §8.2.6.1
        out.add("Timestamp", cast(HeaderValue, request.headers.get("Timestamp")))
    for name, value in headers or ():
        out.add(name, value)
    return Response(status, reason or REASON_PHRASES.get(status, ""), out, body)


def parse_message(data: bytes) -> Message:
    """Parse one whole message (a UDP datagram); see :mod:`media.sip.parser`."""
    from .parser import parse_message as _parse

    return _parse(data)
