"""SIP and SIPS URIs (RFC 3261 §19.1) as values."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

DEFAULT_PORTS = {"sip": 5060, "sips": 5061}


@dataclass(frozen=True, slots=True, eq=False)
class SipUri:
    """A ``sip:``/``sips:`` URI (other schemes, e.g. ``tel:``, keep their text in ``user``).

    ``host`` is stored without IPv6 brackets; ``user`` keeps its escaped form
    as received.  Parameter names are lower-case (they are case-insensitive,
    §19.1.4); a parameter without a value maps to ``None``.
    """

    host: str
    user: str | None = None
    password: str | None = None
    port: int | None = None
    scheme: str = "sip"
    params: dict[str, str | None] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> SipUri:
        """Parse a URI; raises :class:`RemoteProtocolError` when malformed."""
        from .parser import parse_uri

        return parse_uri(text)

    @property
    def host_port(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"

    @property
    def transport(self) -> str:
        """The transport the URI asks for (``udp`` unless ``transport=`` or sips)."""
        value = self.params.get("transport")
        if value:
            return value.lower()
        return "tls" if self.scheme == "sips" else "udp"

    @property
    def default_port(self) -> int:
        return self.port if self.port is not None else DEFAULT_PORTS.get(self.scheme, 5060)

    def with_params(self, **params: str | None) -> SipUri:
        return replace(self, params={**self.params, **params})

    def without_params(self, *names: str) -> SipUri:
        return replace(self, params={k: v for k, v in self.params.items() if k not in names})

    def __str__(self) -> str:
        if self.scheme not in DEFAULT_PORTS:
            return f"{self.scheme}:{self.user or ''}"
        userinfo = ""
        if self.user is not None:
            userinfo = self.user if self.password is None else f"{self.user}:{self.password}"
            userinfo += "@"
        params = "".join(f";{k}" if v is None else f";{k}={v}" for k, v in self.params.items())
        headers = "&".join(f"{k}={v}" for k, v in self.headers.items())
        return f"{self.scheme}:{userinfo}{self.host_port}{params}{'?' + headers if headers else ''}"

    def __eq__(self, other: object) -> bool:
        """URI equality, simplified from §19.1.4: scheme/user/host/port/params."""
        if not isinstance(other, SipUri):
            return NotImplemented
        return (
            self.scheme == other.scheme
            and self.user == other.user
            and self.password == other.password
            and self.host.lower() == other.host.lower()
            and self.port == other.port
            and _params_equal(self.params, other.params)
        )

    def __hash__(self) -> int:
        return hash((self.scheme, self.user, self.host.lower(), self.port))


_SIGNIFICANT = ("user", "ttl", "method", "maddr", "transport")


def _params_equal(a: dict[str, str | None], b: dict[str, str | None]) -> bool:
    """§19.1.4: params present in both must match; user/ttl/method/maddr/transport must match."""
    for name in set(a) | set(b):
        va, vb = a.get(name), b.get(name)
        if name in a and name in b:
            if (va or "").lower() != (vb or "").lower():
                return False
        elif name in _SIGNIFICANT:
            return False
    return True
