"""Where messages go: :class:`Target`, Via stamping and response routing.

RFC 3261 §18.2.1 (the server stamps ``received``), §18.2.2 (where a response
goes) and RFC 3581 (``rport``, symmetric response routing for clients behind
NAT).  Pure functions of the request and the address it came from.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ..headers import Headers, Via
from ..message import Request

#: Transports with their own retransmission: no Timer A/E/G, zero D/I/J/K (§17).
RELIABLE_TRANSPORTS = frozenset({"tcp", "tls", "sctp", "ws", "wss"})


@dataclass(frozen=True, slots=True)
class Target:
    """A transport address a message came from or goes to.

    ``connection`` is the opaque handle of the connection a request arrived
    on (reliable transports only); responses go back over it (§18.2.2), and
    the transport falls back to ``host``/``port`` if it has closed.
    """

    transport: str
    host: str
    port: int
    connection: object | None = None

    @property
    def reliable(self) -> bool:
        return self.transport.lower() in RELIABLE_TRANSPORTS


#: A :class:`Target` as a plain tuple (what a parked transaction keeps; see ``table``).
TargetFields = tuple[str, str, int, object]


def target_fields(target: Target) -> TargetFields:
    return (target.transport, target.host, target.port, target.connection)


def stamp_via(request: Request, source: Target) -> None:
    """Add ``received``/``rport`` to the top Via of a request from ``source``.

    §18.2.1: ``received`` when sent-by names a host other than the packet's
    source address.  RFC 3581 §4: when the Via carries an empty ``rport``,
    always add ``received`` and fill ``rport`` with the source port.
    """
    via = request.via
    if via is None:
        return
    params: dict[str, str | None] = {}
    if via.wants_rport:
        params["received"] = source.host
        if via.rport is None:
            params["rport"] = str(source.port)
    elif not _same_address(via.host, source.host):
        params["received"] = source.host
    if params:
        request.headers = replace_top_via(request.headers, via.with_params(**params))


def response_target(via: Via, source: Target) -> Target:
    """Where a response to a request with top Via ``via`` from ``source`` goes.

    §18.2.2 and RFC 3581 §4, in order: a reliable transport answers over the
    request's connection (``host``/``port`` are the fallback the transport
    uses if it has closed: ``received`` and the sent-by port); otherwise
    ``maddr``, then ``received`` + ``rport``, then ``received`` + sent-by
    port, then sent-by itself.
    """
    _, port = via.sent_by
    transport = source.transport
    if source.reliable:
        return Target(transport, via.received or via.host, port, source.connection)
    maddr = via.params.get("maddr")
    if maddr:
        return Target(transport, maddr, port)
    if via.rport is not None:
        return Target(transport, via.received or source.host, via.rport)
    return Target(transport, via.received or via.host, port)


def replace_top_via(headers: Headers, via: Via) -> Headers:
    """A copy of ``headers`` whose first Via is ``via``, every position kept."""
    out = Headers()
    replaced = False
    for name, value in headers:
        if name == "Via" and not replaced:
            value, replaced = via, True
        out.add(name, value)
    return out


def _same_address(host: str, address: str) -> bool:
    """True when ``host`` is an IP literal equal to ``address`` (§18.2.1)."""
    try:
        return ipaddress.ip_address(host) == ipaddress.ip_address(address)
    except ValueError:
        return False
