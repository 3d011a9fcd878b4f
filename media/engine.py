"""The media engine: RTP sockets per leg and one 20 ms ticker for every call.

One ticker that sends for all streams costs ~5 µs per packet with ~2 ms p99
lateness here; a task per call cost 21 µs and 21 ms.  So :class:`MediaEngine`
keeps a single ``loop.call_at`` schedule on absolute deadlines (no drift) and,
on each tick, asks every :class:`~media.leg.MediaLeg` for its packet.  A late
wake-up sends the frames that fell due (a few at most) instead of stretching
time.  Sockets read into a small buffer: the stock loop's default 256 KiB read
buffer costs an mmap per packet.

A released port number goes back to the pool only once the loop has really
closed both sockets (``connection_lost``): both the stock loop and uvloop close
them an iteration later, and a number rebound before that would fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable

from .leg import MediaLeg
from .ports import PortPool, PortsExhausted
from .prompts.player import FrameClock

log = logging.getLogger(__name__)

PERIOD = 0.020
MAX_CATCH_UP = 3  # frames sent back to back after a stall; older ones are skipped
#: Calls are spread over this many slots of the 20 ms period (each keeps an exact
#: 20 ms period): one burst of sends per 2 ms instead of every call's at once, so a
#: call's send time does not move with the I/O the loop handled just before.
SLOTS = 10
LATE_REPORTED = 0.005  # a tick this late moves a packet outside 20 ms +/- 5 ms
READ_SIZE = 2048  # RTP/RTCP datagrams are far smaller; see the module docstring
RTCP_INTERVAL = 5.0  # RFC 3550 §6.2 minimum for small sessions


class _RtpProtocol(asyncio.DatagramProtocol):
    def __init__(self, port: RtpPort) -> None:
        self.port = port
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if hasattr(transport, "max_size"):
            transport.max_size = READ_SIZE

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        leg = self.port.leg
        if leg is not None:
            leg.receive(data, (addr[0], addr[1]), self.port.clock())

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP port unreachable while the peer's RTP is not up yet: expected

    def connection_lost(self, exc: Exception | None) -> None:
        self.port._transport_closed(self)


class _RtcpProtocol(_RtpProtocol):
    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        leg = self.port.leg
        if leg is not None:
            leg.receive_rtcp(data, self.port.clock())


class RtpPort:
    """A bound RTP/RTCP socket pair; a :class:`MediaLeg` is attached once negotiated."""

    def __init__(self, number: int, clock: Callable[[], float]) -> None:
        self.number = number
        self.clock = clock
        self.leg: MediaLeg | None = None
        self.rtp = _RtpProtocol(self)
        self.rtcp = _RtcpProtocol(self)
        self.next_rtcp = 0.0
        self.slot = 0  # which 2 ms slot of the period this port sends in
        self.send_errors = 0
        self._sendto: Callable[[bytes, tuple[str, int]], object] = self._no_socket
        #: a leg's tick raised: logged once, the other legs go on
        self.failed = False
        self._on_closed: Callable[[RtpPort], None] | None = None
        self._closing = False
        self._lost: set[_RtpProtocol] = set()

    def send(self, data: bytes, addr: tuple[str, int]) -> None:
        """Send straight on the socket: the transport's sendto costs more per packet,
        and a full send buffer is better met by dropping one 20 ms frame than queuing it."""
        try:
            self._sendto(data, addr)
        except OSError:  # EAGAIN (buffer full) or a socket already closed: drop the frame
            self.send_errors += 1

    def _no_socket(self, data: bytes, addr: tuple[str, int]) -> None:
        raise OSError("not bound")

    def send_rtcp(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.rtcp.transport is not None:
            self.rtcp.transport.sendto(data, addr)

    def close(self, on_closed: Callable[[RtpPort], None] | None = None) -> None:
        """Close both sockets; ``on_closed(self)`` runs once the loop has closed them."""
        self.leg = None
        if self._closing:
            return
        self._closing = True
        self._on_closed = on_closed
        for proto in (self.rtp, self.rtcp):
            if proto.transport is not None and proto not in self._lost:
                proto.transport.close()
            else:
                self._lost.add(proto)
        self._check_closed()

    def _transport_closed(self, proto: _RtpProtocol) -> None:
        self._lost.add(proto)
        self._check_closed()

    def _check_closed(self) -> None:
        if self._closing and len(self._lost) == 2 and self._on_closed is not None:
            on_closed, self._on_closed = self._on_closed, None
            on_closed(self)
            self._lost.clear()  # port <-> protocol references: let refcounting free them
            self._sendto = self._no_socket

class MediaEngine:
    """Allocates RTP ports and paces every leg's outgoing audio from one ticker."""

    def __init__(self, host: str, ports: PortPool, *, rtcp_interval: float = RTCP_INTERVAL) -> None:
        self.host = host
        self.pool = ports
        self.rtcp_interval = rtcp_interval
        self.ports: dict[int, RtpPort] = {}
        self._closing: set[int] = set()  # released, sockets not closed yet
        self._port_freed: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clocks: list[FrameClock] = []
        self._slots: list[dict[int, RtpPort]] = [{} for _ in range(SLOTS)]
        self._next_slot = 0
        self._timer: asyncio.TimerHandle | None = None
        self.frames_due = 0  # frames that fell due on the ticker (sent or skipped)
        self.late_ticks = 0
        self.skipped_frames = 0
        #: how late the ticker woke up: the worst, and how often by more than 5 ms
        self.max_late = 0.0
        self.late_over_5ms = 0
        self._deadline = 0.0

    def now(self) -> float:
        assert self._loop is not None
        return self._loop.time()

    async def bind(self) -> RtpPort:
        """Bind the next free RTP/RTCP pair; raises :class:`PortsExhausted`.

        When every free number is still closing (released an iteration ago), waits
        for one.  A pair another program holds is skipped and put back at the end of
        the pool, to be tried again after every other number.
        """
        self._loop = asyncio.get_running_loop()
        for _ in range(self.pool.capacity):
            while not self.pool.available and self._closing:
                await self._wait_for_a_port()
            number = self.pool.allocate()
            try:
                port = await self._bind_pair(number)
            except OSError:
                log.warning("RTP port %d or %d is in use by another program", number, number + 1)
                self.pool.release(number)
                continue
            self.ports[number] = port
            return port
        raise PortsExhausted("no bindable RTP port left")

    async def _wait_for_a_port(self) -> None:
        if self._port_freed is None:
            self._port_freed = asyncio.Event()
        self._port_freed.clear()
        await self._port_freed.wait()

    def _port_closed(self, port: RtpPort) -> None:
        self._closing.discard(port.number)
        self.pool.release(port.number)
        if self._port_freed is not None:
            self._port_freed.set()

    async def _bind_pair(self, number: int) -> RtpPort:
        assert self._loop is not None
        port = RtpPort(number, self.now)
        sockets: list[socket.socket] = []
        try:
            sockets.append(_udp_socket(self.host, number))
            sockets.append(_udp_socket(self.host, number + 1))
            await self._loop.create_datagram_endpoint(lambda: port.rtp, sock=sockets[0])
            await self._loop.create_datagram_endpoint(lambda: port.rtcp, sock=sockets[1])
            port._sendto = sockets[0].sendto
        except BaseException:
            port.close()
            for s in sockets:
                s.close()
            raise
        return port

    def attach(self, port: RtpPort, leg: MediaLeg) -> None:
        """Start receiving into and sending from ``leg``."""
        port.leg = leg
        port.next_rtcp = self.now() + self.rtcp_interval
        port.slot = self._next_slot
        self._next_slot = (self._next_slot + 1) % SLOTS
        self._slots[port.slot][port.number] = port
        self._ensure_ticking()

    def release(self, port: RtpPort) -> None:
        """Close the sockets and give the number back (every call end, failures included).

        The number returns to the pool once the loop has closed the sockets, an
        iteration later; :meth:`bind` waits for it if it is the last one.
        """
        if self.ports.get(port.number) is not port:
            return  # released before (its number may already serve another call)
        del self.ports[port.number]
        self._slots[port.slot].pop(port.number, None)
        self._closing.add(port.number)
        port.close(on_closed=self._port_closed)

    # -- the ticker ---------------------------------------------------------------

    def _ensure_ticking(self) -> None:
        if self._timer is None:
            assert self._loop is not None
            start = self._loop.time()
            self._clocks = [FrameClock(start + j * PERIOD / SLOTS, PERIOD) for j in range(SLOTS)]
            self._schedule()

    def _schedule(self) -> None:
        assert self._loop is not None
        self._deadline = min(clock.next_deadline() for clock in self._clocks)
        self._timer = self._loop.call_at(self._deadline, self._tick)

    def _tick(self) -> None:
        now = self.now()
        late = now - self._deadline
        if late > self.max_late:
            self.max_late = late
        if late > LATE_REPORTED:
            self.late_over_5ms += 1
        clocks = enumerate(self._clocks)
        due_slots = [(j, c.due(now)) for j, c in clocks if c.next_deadline() <= now]
        # Scheduled first: nothing a leg does can stop the ticker for every call.
        if self.ports:
            self._schedule()
        else:
            self._timer = None
        for slot, due in due_slots:
            if not self._slots[slot]:
                continue
            self.frames_due += due
            if due > 1:
                self.late_ticks += 1
                self.skipped_frames += max(0, due - MAX_CATCH_UP)
            for _ in range(min(due, MAX_CATCH_UP)):
                self._send_all(now, slot)

    def _send_all(self, now: float, slot: int = 0) -> None:
        # A snapshot: a leg's callbacks may release a port (one tuple per tick, not per leg).
        for port in tuple(self._slots[slot].values()):
            leg = port.leg
            if leg is None:
                continue
            try:
                packet = leg.tick(now)
                if packet is not None and leg.remote is not None:
                    port.send(packet, leg.remote)
                if now >= port.next_rtcp and leg.remote is not None:
                    port.next_rtcp = now + self.rtcp_interval
                    port.send_rtcp(leg.rtcp_report(now), (leg.remote[0], leg.remote[1] + 1))
            except Exception:  # a bug in one call (a listener, a source) stays in that call
                if not port.failed:
                    port.failed = True
                    log.exception("media leg on port %d failed in its tick", port.number)

    async def close(self) -> None:
        """Stop the ticker, release every port and wait (a second at most) until closed."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for port in list(self.ports.values()):
            self.release(port)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                while self._closing:
                    await self._wait_for_a_port()


def _udp_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock
