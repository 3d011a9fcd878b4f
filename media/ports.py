"""RTP port pool: even ports from the configured range (RFC 3550 §11: RTP even, RTCP +1)."""

from __future__ import annotations

from collections import deque


class PortsExhausted(Exception):
    """No RTP port is free: the call is refused with 503 rather than set up silent."""


class PortPool:
    """Hands out even RTP ports from ``[low, high]``, least recently used first.

    Reusing the port freed longest ago lets late packets of an ended call die
    out before the port carries a new one.
    """

    def __init__(self, low: int, high: int) -> None:
        first = low + (low % 2)
        self._free: deque[int] = deque(range(first, high, 2))  # high is RTCP of the last pair
        self._used: set[int] = set()
        self.capacity = len(self._free)

    def allocate(self) -> int:
        """The free port released longest ago; :class:`PortsExhausted` if none is."""
        if not self._free:
            raise PortsExhausted(f"all {self.capacity} RTP ports are in use")
        port = self._free.popleft()
        self._used.add(port)
        return port

    def release(self, port: int) -> None:
        """Give ``port`` back (to the end of the queue); unknown or free ports are ignored."""
        if port in self._used:
            self._used.remove(port)
            self._free.append(port)

    @property
    def in_use(self) -> int:
        """Ports handed out and not yet released."""
        return len(self._used)

    @property
    def available(self) -> int:
        """Ports free to allocate now."""
        return len(self._free)
