"""The asyncio edge of SIP: UDP and TCP sockets (RFC 3261 §18), nothing else.

:class:`SipTransport` binds one UDP endpoint and one TCP listener on the same
port, parses what arrives (datagrams whole, streams framed by Content-Length)
and hands each message with its :class:`Target` to a callback.  Malformed
requests get their 400 here, statelessly; garbage is dropped.  Outgoing TCP
reuses the connection a peer opened to us (connection reuse), or opens one.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
from collections.abc import Callable

from .errors import RemoteProtocolError
from .message import Message
from .parser import StreamParser, parse_message
from .stateless import error_response
from .transaction import Target

log = logging.getLogger(__name__)

MAX_MESSAGE = 65536  # the size limit we enforce on every transport
_UDP_READ_SIZE = MAX_MESSAGE + 1  # one byte more, so an oversized datagram is seen as such

MessageHandler = Callable[[Message, Target], None]


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, owner: SipTransport) -> None:
        self.owner = owner
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        # The stock loop reads every datagram into a 256 KiB buffer (an mmap per
        # packet); SIP never needs more than our size limit.
        if hasattr(transport, "max_size"):
            transport.max_size = _UDP_READ_SIZE

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if data in (b"\r\n\r\n", b"\r\n", b"\x00\x00\x00\x00"):
            return  # RFC 5626 keep-alive / NAT ping
        source = Target("udp", addr[0], addr[1])
        try:
            message = parse_message(data, max_size=MAX_MESSAGE)
        except RemoteProtocolError as exc:
            self.owner.refuse(data, exc, source)
            return
        self.owner.deliver(message, source)

    def error_received(self, exc: Exception) -> None:  # ICMP unreachable and the like
        log.debug("UDP error: %s", exc)


class TcpConnection(asyncio.Protocol):
    """One TCP connection; it is the ``Target.connection`` of what it carries."""

    def __init__(self, owner: SipTransport) -> None:
        self.owner = owner
        self.parser = StreamParser(max_size=MAX_MESSAGE)
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[str, int] = ("", 0)
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.peer = (peer[0], peer[1])
        self.owner.connections[self.peer] = self

    def data_received(self, data: bytes) -> None:
        self.parser.feed(data)
        source = Target("tcp", self.peer[0], self.peer[1], self)
        while True:
            try:
                message = self.parser.next_message()
            except RemoteProtocolError as exc:
                self.owner.refuse(self.parser.failed_data(), exc, source)
                if self.parser.broken:  # framing is lost: the stream is unusable
                    self.close()
                    return
                continue
            if message is None:
                break
            self.owner.deliver(message, source)
        if self.parser.take_pings():
            self.write(b"\r\n")  # RFC 5626 §3.5.1 pong

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.owner.connections.get(self.peer) is self:
            del self.owner.connections[self.peer]
        if not self.closed.done():
            self.closed.set_result(None)


class SipTransport:
    """UDP + TCP on one address; see the module docstring."""

    def __init__(self, on_message: MessageHandler) -> None:
        self.on_message = on_message
        self.connections: dict[tuple[str, int], TcpConnection] = {}
        self._udp: _UdpProtocol | None = None
        self._server: asyncio.Server | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self.address: tuple[str, int] = ("", 0)

    async def start(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        _, udp = await loop.create_datagram_endpoint(
            lambda: _UdpProtocol(self), local_addr=(host, port)
        )
        self._udp = udp
        assert udp.transport is not None
        bound = udp.transport.get_extra_info("sockname")
        self.address = (bound[0], bound[1])
        self._server = await loop.create_server(
            lambda: TcpConnection(self), host, self.address[1], reuse_address=True
        )

    def deliver(self, message: Message, source: Target) -> None:
        try:
            self.on_message(message, source)
        except Exception:  # the edge: one bad message must not take the server down
            log.exception("error handling %r from %s", message, source)

    def refuse(self, data: bytes, error: RemoteProtocolError, source: Target) -> None:
        log.info("refused message from %s:%s: %s", source.host, source.port, error.reason)
        reply = error_response(data, error)
        if reply is not None:
            self.send_bytes(reply, source)

    def send(self, message: Message, target: Target) -> None:
        self.send_bytes(bytes(message), target)

    def send_bytes(self, data: bytes, target: Target) -> None:
        if target.transport == "udp":
            self._send_udp(data, target)
            return
        connection = target.connection
        if not isinstance(connection, TcpConnection) or connection.closed.done():
            connection = self.connections.get((target.host, target.port))
        if connection is not None:
            connection.write(data)
        else:
            self._spawn(self._connect_and_send(data, target))

    def _send_udp(self, data: bytes, target: Target) -> None:
        if self._udp is None or self._udp.transport is None:
            return
        if _is_ip(target.host):
            self._udp.transport.sendto(data, (target.host, target.port))
        else:
            self._spawn(self._resolve_and_send(data, target))

    async def _resolve_and_send(self, data: bytes, target: Target) -> None:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(target.host, target.port, type=2)  # SOCK_DGRAM
        if infos and self._udp is not None and self._udp.transport is not None:
            self._udp.transport.sendto(data, infos[0][4][:2])

    async def _connect_and_send(self, data: bytes, target: Target) -> None:
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(
            lambda: TcpConnection(self), target.host, target.port
        )
        connection.write(data)

    def _spawn(self, coro: object) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._pending.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("SIP send failed: %s", task.exception())

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for connection in list(self.connections.values()):
            connection.close()
        for task in list(self._pending):
            task.cancel()
        if self._udp is not None and self._udp.transport is not None:
            self._udp.transport.close()
        if self._server is not None:
            await self._server.wait_closed()


@functools.lru_cache(maxsize=4096)
def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
