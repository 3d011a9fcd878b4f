"""Messages kept as their wire form: what a completed transaction retains.

A transaction that only absorbs retransmissions (RFC 3261 §17.1.1.2 Timer D,
§17.1.2.2 Timer K, §17.2.1 Timers G/H/I, §17.2.2 Timer J, RFC 6026 Timer L)
lives 32 s after its final response.  A parsed message is some forty objects
the garbage collector tracks (headers, name-addrs, URIs, dicts); ``bytes`` is
none.  So such a transaction keeps bytes, and hands them out as
:class:`WireRequest` / :class:`WireResponse`: real ``Request``/``Response``
objects whose ``bytes()`` is the stored wire form as it is, and whose fields
are parsed on first use.  Sending one costs nothing; looking inside costs one
parse, once per view.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar, overload

from ..headers import Headers
from ..message import Message, Request, Response, parse_message
from ..uri import SipUri

T = TypeVar("T")


class _Parsed(Generic[T]):
    """A message field read from, and written to, the view's parse."""

    name: str

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, view: None, owner: type) -> _Parsed[T]: ...
    @overload
    def __get__(self, view: _Wire, owner: type) -> T: ...
    def __get__(self, view: _Wire | None, owner: type) -> Any:
        if view is None:
            return self
        return getattr(view.parsed(), self.name)

    def __set__(self, view: _Wire, value: T) -> None:
        setattr(view.parsed(), self.name, value)


class _Wire:
    """The part both views share: the wire bytes and the parse, made on demand."""

    _kind: type[Message]

    def __init__(self, wire: bytes) -> None:
        self.wire = wire
        self._parsed: Message | None = None

    def parsed(self) -> Message:
        """The message parsed from ``wire`` (once per view)."""
        if self._parsed is None:
            message = parse_message(self.wire)
            assert isinstance(message, self._kind), "a view of the wrong kind of message"
            self._parsed = message
        return self._parsed

    def __bytes__(self) -> bytes:
        """The stored bytes; after a field was written, the changed message's."""
        return self.wire if self._parsed is None else bytes(self._parsed)


class WireRequest(_Wire, Request):
    """A request known by its wire form (see the module docstring)."""

    _kind = Request
    method = _Parsed[str]()
    uri = _Parsed[SipUri]()
    headers = _Parsed[Headers]()
    body = _Parsed[bytes]()


class WireResponse(_Wire, Response):
    """A response known by its wire form (see the module docstring)."""

    _kind = Response
    status = _Parsed[int]()
    reason = _Parsed[str]()
    headers = _Parsed[Headers]()
    body = _Parsed[bytes]()
