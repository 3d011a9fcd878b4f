"""Which local addresses aiortc offers as ICE host candidates.

aioice gathers every address of every interface except loopback, and has no option
to choose.  A server bound to loopback (tests, a demo on one machine inside a network
namespace) must offer 127.0.0.1 instead, or the browser finds no pair; the
configuration names the addresses and this module pins them in aioice once.
"""

from __future__ import annotations

from collections.abc import Sequence

import aioice.ice

_original = aioice.ice.get_host_addresses


def use_host_addresses(addresses: Sequence[str] | None) -> None:
    """Offer exactly ``addresses`` as host candidates; None restores aioice's own choice."""
    if addresses is None:
        aioice.ice.get_host_addresses = _original
        return
    pinned = list(addresses)

    def host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in pinned if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    aioice.ice.get_host_addresses = host_addresses
