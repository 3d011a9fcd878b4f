"""Which address to tell others about when the server binds a wildcard address."""

from __future__ import annotations

import ipaddress
import socket

WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}
# TEST-NET-1 (RFC 5737): connecting a UDP socket sends nothing, it only picks a route.
_ROUTE_PROBE = ("192.0.2.1", 9)


def reachable_host(bind_host: str) -> str:
    """An address a client on this machine can connect to when the server binds ``bind_host``."""
    return WILDCARDS.get(bind_host, bind_host)


def lan_address() -> str | None:
    """This machine's IPv4 address on its default route, or None without one (no network)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(_ROUTE_PROBE)
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if ipaddress.ip_address(address).is_loopback else address


def advertised_host(bind_host: str) -> str:
    """The address peers should send to (SIP Contact/Via, SDP ``c=``) for ``bind_host``.

    A wildcard bind is advertised as the LAN address so phones on other machines can reach
    us, falling back to loopback on a machine without a network.
    """
    if bind_host not in WILDCARDS:
        return bind_host
    return lan_address() or reachable_host(bind_host)


def url_host(host: str) -> str:
    """``host`` as written inside a URL (IPv6 in brackets)."""
    return f"[{host}]" if ":" in host else host
