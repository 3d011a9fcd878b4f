"""Typed SIP header values and the ordered header multimap (RFC 3261 §7.3, §20).

Headers are parsed once, by :mod:`media.sip.parser`, into the objects below;
the rest of the stack never splits header text itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from .uri import SipUri

MAGIC_COOKIE = "z9hG4bK"  # RFC 3261 §8.1.1.7: branch prefix of compliant implementations

# §7.3.3 compact forms, and the canonical spelling we send.
COMPACT_FORMS = {
    "i": "Call-ID", "m": "Contact", "e": "Content-Encoding", "l": "Content-Length",
    "c": "Content-Type", "f": "From", "s": "Subject", "k": "Supported", "t": "To",
    "v": "Via", "o": "Event", "r": "Refer-To", "b": "Referred-By", "u": "Allow-Events",
    "a": "Accept-Contact", "j": "Reject-Contact", "d": "Request-Disposition",
    "x": "Session-Expires",
    "y": "Identity", "n": "Identity-Info",
}
_CANONICAL = {
    name.lower(): name
    for name in (
        "Accept", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow", "Allow-Events",
        "Authentication-Info", "Authorization", "Call-ID", "Call-Info", "Contact",
        "Content-Disposition", "Content-Encoding", "Content-Language", "Content-Length",
        "Content-Type", "CSeq", "Date", "Error-Info", "Event", "Expires", "From", "In-Reply-To",
        "Max-Forwards", "Min-Expires", "MIME-Version", "Organization", "P-Asserted-Identity",
        "Priority", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Require", "RAck",
        "Record-Route", "Refer-To", "Referred-By", "Reply-To", "Require", "Retry-After", "Route",
        "RSeq", "Server", "Session-Expires", "Subject", "Supported", "Timestamp", "To",
        "Unsupported", "User-Agent", "Via", "Warning", "WWW-Authenticate",
    )
}


def canonical_name(name: str) -> str:
    """The spelling we use for a header name (compact forms expanded, §7.3.3)."""
    lower = name.lower()
    if len(lower) == 1 and lower in COMPACT_FORMS:
        return COMPACT_FORMS[lower]
    return _CANONICAL.get(lower, name)


def _format_params(params: dict[str, str | None]) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


@dataclass(frozen=True, slots=True, eq=False)
class Via:
    """One Via header value (§20.42): ``SIP/2.0/UDP host:port;branch=...``."""

    transport: str
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def received(self) -> str | None:
        return self.params.get("received")

    @property
    def rport(self) -> int | None:
        """The ``rport`` value filled in by a server (RFC 3581), else None."""
        value = self.params.get("rport")
        return int(value) if value and value.isdigit() and len(value) <= 5 else None

    @property
    def wants_rport(self) -> bool:
        return "rport" in self.params

    @property
    def sent_by(self) -> tuple[str, int]:
        """Host and port of sent-by, with the transport's default port (§18.2.2)."""
        return self.host, self.port if self.port is not None else self.default_port

    @property
    def default_port(self) -> int:
        return 5061 if self.transport.upper() in ("TLS", "WSS") else 5060

    @property
    def is_compliant(self) -> bool:
        """True when the branch carries the RFC 3261 magic cookie."""
        return bool(self.branch) and self.branch.startswith(MAGIC_COOKIE)  # type: ignore[union-attr]

    def with_params(self, **params: str | None) -> Via:
        return replace(self, params={**self.params, **params})

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if self.port is None else f":{self.port}"
        return f"SIP/2.0/{self.transport.upper()} {host}{port}{_format_params(self.params)}"


@dataclass(frozen=True, slots=True, eq=False)
class NameAddr:
    """From/To/Contact/Route/Record-Route values: ``"Display" <uri>;params`` (§20.10)."""

    uri: SipUri
    display: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    @property
    def expires(self) -> int | None:
        value = self.params.get("expires")
        return int(value) if value is not None and value.isdigit() and len(value) <= 10 else None

    def with_tag(self, tag: str) -> NameAddr:
        return replace(self, params={**self.params, "tag": tag})

    def __str__(self) -> str:
        display = ""
        if self.display is not None:
            escaped = self.display.replace("\\", "\\\\").replace('"', '\\"')
            display = f'"{escaped}" '
        return f"{display}<{self.uri}>{_format_params(self.params)}"


@dataclass(frozen=True, slots=True)
class CSeq:
    """The CSeq header (§20.16): a 32-bit sequence number and the method."""

    number: int
    method: str

    def __str__(self) -> str:
        return f"{self.number} {self.method}"


@dataclass(frozen=True, slots=True)
class ContactStar:
    """``Contact: *`` in a REGISTER that removes all bindings (§10.2.2)."""

    def __str__(self) -> str:
        return "*"


HeaderValue = str | int | Via | NameAddr | CSeq | ContactStar


class Headers:
    """Ordered multimap of header name -> value; names compare case-insensitively.

    Multi-valued headers (Via, Route, Contact, ...) hold one entry per value,
    in order, so ``get_all("Via")`` is the Via list.  Serialization writes one
    header line per entry.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, HeaderValue]] = ()) -> None:
        self._items: list[tuple[str, HeaderValue]] = [(canonical_name(n), v) for n, v in items]

    def add(self, name: str, value: HeaderValue) -> None:
        self._items.append((canonical_name(name), value))

    def prepend(self, name: str, value: HeaderValue) -> None:
        """Insert before the first header of that name (a new top Via or Route)."""
        name = canonical_name(name)
        key = name.lower()
        for i, (n, _) in enumerate(self._items):
            if n.lower() == key:
                self._items.insert(i, (name, value))
                return
        self._items.append((name, value))

    def get(self, name: str, default: HeaderValue | None = None) -> HeaderValue | None:
        key = canonical_name(name).lower()
        for n, v in self._items:
            if n.lower() == key:
                return v
        return default

    def get_all(self, name: str) -> list[HeaderValue]:
        key = canonical_name(name).lower()
        return [v for n, v in self._items if n.lower() == key]

    def set(self, name: str, value: HeaderValue) -> None:
        """Replace every header of that name with one value, where the first stood."""
        name = canonical_name(name)
        key = name.lower()
        index = next((i for i, (n, _) in enumerate(self._items) if n.lower() == key), None)
        self.remove(name)
        if index is None:
            self._items.append((name, value))
        else:
            self._items.insert(index, (name, value))

    def remove(self, name: str) -> None:
        key = canonical_name(name).lower()
        self._items = [(n, v) for n, v in self._items if n.lower() != key]

    def pop_first(self, name: str) -> HeaderValue | None:
        key = canonical_name(name).lower()
        for i, (n, v) in enumerate(self._items):
            if n.lower() == key:
                del self._items[i]
                return v
        return None

    def copy(self) -> Headers:
        return Headers(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[tuple[str, HeaderValue]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"
