"""MediaEngine over real loopback UDP sockets, on the stock asyncio loop and on uvloop.

The peer is a plain UDP socket pair (RTP on an even port, RTCP on the next).  Timing
is checked as behaviour -- about one packet per 20 ms, sequence numbers without gaps,
catch-up capped after a stall -- never as exact instants.  Each scenario runs well
under two seconds.
"""

from __future__ import annotations

import asyncio
import random
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import uvloop

from media.codecs import get_codec
from media.dtmf.events import DtmfDigit
from media.engine import MAX_CATCH_UP, MediaEngine
from media.leg import MediaLeg
from media.ports import PortPool, PortsExhausted
from media.rtp.packet import RtpPacket
from media.rtp.rtcp import (
    ReceiverReport,
    ReportBlock,
    SenderReport,
    SourceDescription,
    ntp_from_unix,
    ntp_middle,
    parse_rtcp,
    serialize_rtcp,
)

HOST = "127.0.0.1"
LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}
Run = Callable[[Awaitable[Any]], Any]


@pytest.fixture(params=list(LOOPS))
def run(request: pytest.FixtureRequest) -> Iterator[Run]:
    """Run a scenario to the end on a fresh loop of each kind (production uses uvloop)."""
    with asyncio.Runner(loop_factory=LOOPS[request.param]) as runner:
        yield runner.run


def free_range(pairs: int) -> tuple[int, int]:
    """An even port range of ``pairs`` RTP/RTCP pairs nobody is bound to right now."""
    for _ in range(50):
        low = random.randrange(20000, 60000, 2)
        probes = []
        try:
            for port in range(low, low + 2 * pairs):
                probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                probes.append(probe)
                probe.bind((HOST, port))
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
        return low, low + 2 * pairs - 1
    raise RuntimeError("no free port range")


class Collector(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: list[tuple[float, bytes]] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.append((time.monotonic(), data))


class Peer:
    """The far end: an RTP socket on an even port and its RTCP socket on the next."""

    def __init__(self) -> None:
        self.rtp = Collector()
        self.rtcp = Collector()
        self.port = 0

    async def __aenter__(self) -> Peer:
        loop = asyncio.get_running_loop()
        low, _ = free_range(1)
        self.port = low
        await loop.create_datagram_endpoint(lambda: self.rtp, local_addr=(HOST, low))
        await loop.create_datagram_endpoint(lambda: self.rtcp, local_addr=(HOST, low + 1))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for side in (self.rtp, self.rtcp):
            if side.transport is not None:
                side.transport.close()

    @property
    def address(self) -> tuple[str, int]:
        return (HOST, self.port)

    def send(self, data: bytes, port: int) -> None:
        assert self.rtp.transport is not None
        self.rtp.transport.sendto(data, (HOST, port))

    def packets(self) -> list[RtpPacket]:
        return [RtpPacket.parse(data) for _, data in self.rtp.received]


def make_leg(remote: tuple[str, int] | None, digits: list[DtmfDigit] | None = None) -> MediaLeg:
    sink = digits.append if digits is not None else (lambda digit: None)
    return MediaLeg(get_codec("PCMU"), 0, 101, remote, sink)


def new_engine(pairs: int = 4, **kwargs: Any) -> MediaEngine:
    return new_engine_at(pairs, **kwargs)[0]


def new_engine_at(pairs: int = 4, **kwargs: Any) -> tuple[MediaEngine, int]:
    """An engine on a free range of ``pairs`` pairs, and the range's first port."""
    low, high = free_range(pairs)
    return MediaEngine(HOST, PortPool(low, high), **kwargs), low


def bound(sock_port: int) -> bool:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.bind((HOST, sock_port))
    except OSError:
        return True
    finally:
        probe.close()
    return False


# -- ports --------------------------------------------------------------------------------


def test_bind_gives_even_ports_with_rtcp_next(run: Run) -> None:
    async def scenario() -> None:
        engine, low = new_engine_at(pairs=3)
        ports = [await engine.bind() for _ in range(3)]
        assert [p.number for p in ports] == [low, low + 2, low + 4]
        for port in ports:
            assert port.number % 2 == 0
            assert bound(port.number) and bound(port.number + 1)
        assert engine.pool.in_use == 3
        assert set(engine.ports) == {p.number for p in ports}
        await engine.close()

    run(scenario())


def test_release_closes_both_sockets_and_returns_the_number(run: Run) -> None:
    async def scenario() -> None:
        engine = new_engine(pairs=1)
        port = await engine.bind()
        number = port.number
        engine.release(port)
        engine.release(port)  # twice is harmless
        assert number not in engine.ports
        again = await engine.bind()  # the only number, rebound at once
        assert again.number == number
        assert bound(number) and bound(number + 1)
        engine.release(port)  # a stale release must not touch the new binding
        assert engine.ports == {number: again}
        engine.release(again)
        for _ in range(5):
            await asyncio.sleep(0)
        assert not bound(number) and not bound(number + 1)
        assert engine.pool.in_use == 0

    run(scenario())


def test_a_port_busy_elsewhere_is_skipped(run: Run) -> None:
    async def scenario() -> None:
        engine, low = new_engine_at(pairs=2)
        squatter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        squatter.bind((HOST, low + 1))  # its RTCP half is taken
        try:
            port = await engine.bind()
            assert port.number == low + 2
            assert not bound(low)  # the half-bound pair was undone
        finally:
            squatter.close()
        # Given back to the pool's end: usable once the other program lets go.
        port2 = await engine.bind()
        assert port2.number == low
        await engine.close()

    run(scenario())


def test_ports_exhausted(run: Run) -> None:
    async def scenario() -> None:
        engine = new_engine(pairs=1)
        await engine.bind()
        with pytest.raises(PortsExhausted):
            await engine.bind()
        await engine.close()
        blocked, low = new_engine_at(pairs=1)
        squatter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        squatter.bind((HOST, low))
        try:
            with pytest.raises(PortsExhausted):
                await blocked.bind()
        finally:
            squatter.close()

    run(scenario())


def test_port_pool_arithmetic() -> None:
    pool = PortPool(10001, 10010)  # odd low: starts at the next even port
    assert pool.capacity == 4
    assert [pool.allocate() for _ in range(4)] == [10002, 10004, 10006, 10008]
    with pytest.raises(PortsExhausted):
        pool.allocate()
    pool.release(10004)
    pool.release(10004)
    pool.release(12345)  # never handed out: ignored
    assert pool.in_use == 3 and pool.available == 1
    assert pool.allocate() == 10004
    assert PortPool(10000, 10011).capacity == 6  # 10010/10011 is the last pair
    assert PortPool(10000, 10000).capacity == 0


# -- the ticker ------------------------------------------------------------------------


def test_peer_receives_a_packet_every_20_ms(run: Run) -> None:
    async def scenario() -> None:
        engine = new_engine()
        async with Peer() as peer:
            port = await engine.bind()
            engine.attach(port, make_leg(peer.address))
            await asyncio.sleep(0.5)
            packets = peer.packets()
            await engine.close()
        assert 0.6 * 25 <= len(packets) <= 28
        seqs = [p.sequence_number for p in packets]
        assert seqs == [(seqs[0] + i) & 0xFFFF for i in range(len(seqs))]
        stamps = [p.timestamp for p in packets]
        assert stamps == [(stamps[0] + 160 * i) & 0xFFFFFFFF for i in range(len(stamps))]
        assert {p.payload_type for p in packets} == {0}

    run(scenario())


def test_what_the_peer_sends_reaches_the_leg(run: Run) -> None:
    async def scenario() -> None:
        engine = new_engine()
        async with Peer() as peer:
            port = await engine.bind()
            leg = make_leg(("127.0.0.1", 9))  # the SDP's address; the peer is elsewhere
            engine.attach(port, leg)
            for seq in range(1, 11):
                peer.send(bytes(RtpPacket(0, seq, seq * 160, 0xABCD, bytes(160))), port.number)
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)
            assert leg.latched and leg.remote == peer.address
            assert leg.receiver.packets == 10
            assert leg.quality()["packets_lost"] == 0
            assert peer.packets()  # and we answer where its packets came from
            await engine.close()

    run(scenario())


def test_rtcp_goes_to_the_peers_next_port_every_interval(run: Run) -> None:
    async def scenario() -> None:
        engine = new_engine(rtcp_interval=0.1)
        async with Peer() as peer:
            port = await engine.bind()
            leg = make_leg(peer.address)
            engine.attach(port, leg)
            for seq in range(1, 6):
                peer.send(bytes(RtpPacket(0, seq, seq * 160, 0xABCD, bytes(160))), port.number)
            await asyncio.sleep(0.35)
            reports = [parse_rtcp(data) for _, data in peer.rtcp.received]
            assert 2 <= len(reports) <= 4
            sr, sdes = reports[-1]
            assert isinstance(sr, SenderReport) and isinstance(sdes, SourceDescription)
            assert sr.ssrc == leg.ssrc and sr.reports[0].ssrc == 0xABCD
            # And the peer's report about us comes back on our RTCP port.
            block = ReportBlock(leg.ssrc, lsr=ntp_middle(ntp_from_unix(time.time() - 0.05)))
            rr = serialize_rtcp([ReceiverReport(0xABCD, (block,))])
            assert peer.rtcp.transport is not None
            peer.rtcp.transport.sendto(rr, (HOST, port.number + 1))
            await asyncio.sleep(0.05)
            assert leg.rtt_ms is not None and 30 < leg.rtt_ms < 500
            await engine.close()

    run(scenario())


def test_stall_counts_late_ticks_and_caps_catch_up(run: Run) -> None:
    async def scenario() -> None:
        engine = new_engine()
        async with Peer() as peer:
            port = await engine.bind()
            leg = make_leg(peer.address)
            engine.attach(port, leg)
            sends: list[float] = []
            send_all = engine._send_all

            def spy(now: float, slot: int = 0) -> None:
                sends.append(now)
                send_all(now, slot)

            engine._send_all = spy  # type: ignore[method-assign]
            await asyncio.sleep(0.1)
            asyncio.get_running_loop().call_soon(time.sleep, 0.15)  # a stalled loop
            await asyncio.sleep(0.2)
            await engine.close()
            await asyncio.sleep(0.02)
            packets = peer.packets()
        assert engine.late_ticks >= 1
        assert engine.skipped_frames >= 7 - MAX_CATCH_UP  # 150 ms is 7+ frames
        burst = max(sends.count(now) for now in set(sends))
        assert burst == MAX_CATCH_UP  # the frames that fell due, up to the cap
        assert engine.frames_due == len(sends) + engine.skipped_frames
        seqs = [p.sequence_number for p in packets]
        assert seqs == [(seqs[0] + i) & 0xFFFF for i in range(len(seqs))]  # no gaps

    run(scenario())


def test_a_failing_leg_does_not_stop_the_ticker(run: Run) -> None:
    async def scenario() -> None:
        engine = new_engine()
        async with Peer() as peer, Peer() as other:
            bad_port, good_port = await engine.bind(), await engine.bind()
            bad = make_leg(other.address)

            def broken(heard: object, sent: object) -> None:
                raise RuntimeError("recorder bug")

            bad.recorder = broken
            engine.attach(bad_port, bad)
            engine.attach(good_port, make_leg(peer.address))
            await asyncio.sleep(0.2)
            assert len(peer.packets()) >= 5
            await engine.close()

    run(scenario())


def test_ticker_stops_with_the_last_port_and_restarts(run: Run) -> None:
    async def scenario() -> None:
        engine = new_engine()
        async with Peer() as peer:
            port = await engine.bind()
            engine.attach(port, make_leg(peer.address))
            await asyncio.sleep(0.06)
            engine.release(port)
            await asyncio.sleep(0.05)
            assert engine._timer is None
            count = len(peer.rtp.received)
            port = await engine.bind()
            engine.attach(port, make_leg(peer.address))
            await asyncio.sleep(0.1)
            assert len(peer.rtp.received) >= count + 3
            await engine.close()
            assert engine._timer is None

    run(scenario())


def test_hold_sends_nothing(run: Run) -> None:
    async def scenario() -> None:
        engine = new_engine(rtcp_interval=0.05)
        async with Peer() as peer:
            port = await engine.bind()
            leg = make_leg(None)
            engine.attach(port, leg)
            await asyncio.sleep(0.15)
            assert peer.rtp.received == [] and peer.rtcp.received == []
            leg.remote = peer.address
            await asyncio.sleep(0.1)
            assert peer.rtp.received
            await engine.close()

    run(scenario())


def test_dtmf_over_the_wire(run: Run) -> None:
    """A digit we send arrives as RFC 4733 packets, one event timestamp, then voice."""

    async def scenario() -> None:
        engine = new_engine()
        async with Peer() as peer:
            port = await engine.bind()
            leg = make_leg(peer.address)
            engine.attach(port, leg)
            leg.send_digit("4", duration_ms=40)
            await asyncio.sleep(0.2)
            await engine.close()
            packets = peer.packets()
        events = [p for p in packets if p.payload_type == 101]
        assert len(events) == 4 and len({p.timestamp for p in events}) == 1
        after = packets[packets.index(events[-1]) + 1]
        assert after.payload_type == 0 and after.timestamp == events[0].timestamp + 4 * 160

    run(scenario())
