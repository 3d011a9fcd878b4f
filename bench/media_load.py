"""Concurrent calls with media against one ``hotline serve --demo`` process.

This process is the load generator (uvloop, one UDP socket per call): it sets
up N calls with a minimal SIP UAC built on ``media.sip``, streams 20 ms PCMU
packets to each (with an RFC 4733 digit every few seconds, which the demo
answers with a spoken prompt) and timestamps every packet the server sends
back.  N rises in steps; at each step it measures, over a window:

* the interval between consecutive packets the server sent on a call
  (p1/p50/p99, in ms) and underruns (an interval over 40 ms: a tick missed),
  plus the server's own count of skipped frames;
* the server's CPU per call.

The same streams then go to a bare asyncio UDP echo (uvloop, one socket per
call, 2 KiB reads): the limit of this design on this machine.

    .venv/bin/python bench/media_load.py                       # steps 100,200,...
    .venv/bin/python bench/media_load.py --steps 100,300,500,700 --window 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from media.dtmf.rfc4733 import TelephoneEventSender
from media.sip.errors import RemoteProtocolError
from media.sip.headers import CSeq, Headers, NameAddr, Via
from media.sip.ids import new_branch, new_tag
from media.sip.message import Request, Response
from media.sip.parser import parse_message
from media.sip.sdp import SessionDescription
from media.sip.uri import SipUri

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
PERIOD = 0.020
SILENCE = bytes([0xFF]) * 160


def raise_fd_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


# -- one call's RTP, both directions ----------------------------------------------------


_TIMESPEC = struct.Struct("@qq")
#: Linux; Python 3.11 does not name it (SCM_TIMESTAMPNS has the same value)
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
GENERATOR_PORTS = 50000  # the generator's RTP sockets: 50000 + 2*i, RTCP on +1


class Stream:
    """Our side of one call: sends 20 ms packets, timestamps what comes back.

    Arrival times are the kernel's (SO_TIMESTAMPNS), so they do not include
    the generator's own scheduling delays; RTCP is bound (port + 1) and ignored.
    """

    def __init__(self, index: int) -> None:
        self.index = index
        self.port = GENERATOR_PORTS + 2 * index
        self.sock = _bound(self.port)
        self.rtcp = _bound(self.port + 1)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.remote: tuple[str, int] | None = None
        self.seq = 0
        self.ts = 0
        self.last_arrival = 0.0
        self.intervals: list[float] = []
        self.received = 0
        self.pending_dtmf: list[bytes] = []
        loop = asyncio.get_running_loop()
        loop.add_reader(self.sock.fileno(), self._readable)
        loop.add_reader(self.rtcp.fileno(), self._drain_rtcp)

    def _readable(self) -> None:
        while True:
            try:
                _, ancillary, _, _ = self.sock.recvmsg(2048, 64)
            except BlockingIOError:
                return
            arrival = self.last_arrival
            for level, kind, data in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = _TIMESPEC.unpack(data[: _TIMESPEC.size])
                    arrival = sec + nsec / 1e9
            if self.last_arrival:
                self.intervals.append(arrival - self.last_arrival)
            self.last_arrival = arrival
            self.received += 1

    def _drain_rtcp(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while True:
                self.rtcp.recv(2048)

    def send(self) -> None:
        if self.remote is None:
            return
        self.seq = (self.seq + 1) & 0xFFFF
        if self.pending_dtmf:
            pt, payload = 101, self.pending_dtmf.pop(0)
        else:
            pt, payload = 0, SILENCE
            self.ts = (self.ts + 160) & 0xFFFFFFFF
        header = struct.pack("!BBHII", 0x80, pt, self.seq, self.ts, 0x10000 + self.index)
        with contextlib.suppress(BlockingIOError):
            self.sock.sendto(header + payload, self.remote)

    def queue_digit(self, digit: str) -> None:
        sender = TelephoneEventSender(101)
        self.pending_dtmf = [p.payload for p in sender.packets(digit, self.ts, duration_ms=100)]

    def close(self) -> None:
        loop = asyncio.get_running_loop()
        for sock in (self.sock, self.rtcp):
            loop.remove_reader(sock.fileno())
            sock.close()


def _bound(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sock.bind(("127.0.0.1", port))
    return sock


class Pacer:
    """Sends every stream's packet each 20 ms, the streams spread over the period.

    Real callers are not in step with each other: each 2 ms slot sends for a
    tenth of the calls, on absolute deadlines.
    """

    SLOTS = 10

    def __init__(self) -> None:
        self.streams: list[Stream] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        n = 0
        while True:
            n += 1
            await asyncio.sleep(max(0.0, start + n * PERIOD / self.SLOTS - loop.time()))
            for stream in self.streams[n % self.SLOTS :: self.SLOTS]:
                stream.send()

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


# -- a minimal SIP UAC ------------------------------------------------------------------


class Uac(asyncio.DatagramProtocol):
    """INVITE/ACK/BYE for many calls over one UDP socket, enough for a benchmark."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.transport: asyncio.DatagramTransport | None = None
        self.waiting: dict[str, asyncio.Future[Response]] = {}
        self.invites: dict[str, Request] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    @property
    def local(self) -> tuple[str, int]:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        return host, port

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            message = parse_message(data)
        except RemoteProtocolError:
            return
        if isinstance(message, Request):  # the server hanging up: say OK
            if message.method == "BYE":
                reply = Response(
                    200,
                    "OK",
                    Headers(
                        [
                            (n, v)
                            for n, v in message.headers
                            if n in ("Via", "From", "To", "Call-ID", "CSeq")
                        ]
                    ),
                )
                self._send(reply)
            return
        key = f"{message.call_id}/{message.cseq.method}"
        if message.status >= 200:
            if message.cseq.method == "INVITE":
                self._ack(message)
            future = self.waiting.pop(key, None)
            if future is not None and not future.done():
                future.set_result(message)

    def _send(self, message: Request | Response) -> None:
        assert self.transport is not None
        self.transport.sendto(bytes(message), self.target)

    def _request(
        self, method: str, call_id: str, tag: str, to: NameAddr, cseq: int, body: bytes = b""
    ) -> Request:
        host, port = self.local
        headers = Headers(
            [
                ("Via", Via("UDP", host, port, {"branch": new_branch()})),
                ("Max-Forwards", 70),
                ("From", NameAddr(SipUri(host, "4930555000", port=port), params={"tag": tag})),
                ("To", to),
                ("Call-ID", call_id),
                ("CSeq", CSeq(cseq, method)),
                ("Contact", NameAddr(SipUri(host, "loadgen", port=port))),
            ]
        )
        if body:
            headers.add("Content-Type", "application/sdp")
        return Request(
            method, SipUri(self.target[0], "hotline", port=self.target[1]), headers, body
        )

    async def invite(self, index: int, rtp_port: int) -> tuple[Response, Request]:
        call_id = f"load-{index}-{new_tag()}"
        sdp = (
            "v=0\r\no=load 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {rtp_port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
            "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n"
        ).encode()
        to = NameAddr(SipUri(self.target[0], "hotline", port=self.target[1]))
        request = self._request("INVITE", call_id, new_tag(), to, 1, sdp)
        self.invites[call_id] = request
        response = await self._transact(request)
        return response, request

    def _ack(self, response: Response) -> None:
        invite = self.invites.get(response.call_id)
        if invite is None or response.status >= 300:
            return
        self._send(self._request("ACK", response.call_id, invite.from_.tag or "", response.to, 1))

    async def bye(self, invite: Request, ok: Response) -> None:
        request = self._request("BYE", invite.call_id, invite.from_.tag or "", ok.to, 2)
        with contextlib.suppress(TimeoutError):
            await self._transact(request)

    async def _transact(self, request: Request) -> Response:
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self.waiting[f"{request.call_id}/{request.method}"] = future
        for wait in (0.5, 1.0, 2.0, 4.0):  # Timer A, roughly
            self._send(request)
            with contextlib.suppress(TimeoutError):
                return await asyncio.wait_for(asyncio.shield(future), wait)
        raise TimeoutError(f"no answer to {request.method} {request.call_id}")


# -- the servers under test -----------------------------------------------------------------


@contextlib.contextmanager
def hotline_server(sip_port: int, http_port: int, workdir: Path, max_calls: int):
    rtp = f"30000-{30000 + 2 * max_calls + 100}"
    args = [
        str(ROOT / ".venv/bin/hotline"),
        "serve",
        "--demo",
        "--sip-host",
        "127.0.0.1",
        "--sip-port",
        str(sip_port),
        "--http-host",
        "127.0.0.1",
        "--http-port",
        str(http_port),
        "--data-dir",
        str(workdir / "data"),
        "--rtp-ports",
        rtp,
        "--log-level",
        "WARNING",
    ]
    log = (workdir / "server.log").open("w")
    proc = subprocess.Popen(args, stdout=log, stderr=log)
    try:
        for _ in range(300):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"http://127.0.0.1:{http_port}/healthz")
                break
            time.sleep(0.2)
        time.sleep(3)  # the demo's prompts are being rendered in the background
        yield proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(60)
        log.close()


def media_status(http_port: int) -> dict[str, Any]:
    """The server's media counters and its garbage collector's pauses (/healthz)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/healthz") as reply:
        health = json.load(reply)
    return {**health["sip"].get("media", {}), "gc": health.get("gc", {})}


ECHO_SERVER = """
import asyncio, resource, sys, uvloop
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
class Echo(asyncio.DatagramProtocol):
    def connection_made(self, t):
        self.t = t
        if hasattr(t, "max_size"): t.max_size = 2048
    def datagram_received(self, data, addr):
        self.t.sendto(data, addr)
async def main(base, n):
    loop = asyncio.get_running_loop()
    for i in range(n):
        await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", base + 2 * i))
    print("ready", flush=True)
    await asyncio.Event().wait()
uvloop.run(main(int(sys.argv[1]), int(sys.argv[2])))
"""


# -- the run ------------------------------------------------------------------------------


@dataclass
class Row:
    target: str
    calls: int
    pps_out: float
    p1: float
    p50: float
    p99: float
    underruns: int
    cpu_pct: float
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.p1 >= 15.0 and self.p99 <= 25.0 and self.underruns == 0


async def measure(
    target: str, pid: int, streams: list[Stream], window: float, skipped: int = 0
) -> Row:
    for s in streams:
        s.intervals.clear()
        s.received = 0
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(window)
    elapsed = time.monotonic() - t0
    cpu = (cpu_seconds(pid) - cpu0) / elapsed * 100
    intervals = np.concatenate([np.asarray(s.intervals) for s in streams]) * 1000
    received = sum(s.received for s in streams)
    p1, p50, p99 = np.percentile(intervals, [1, 50, 99]) if len(intervals) else (0, 0, 0)
    underruns = int(np.sum(intervals > 2 * PERIOD * 1000)) + skipped
    return Row(target, len(streams), received / elapsed, p1, p50, p99, underruns, cpu)


async def open_streams(count: int, start: int) -> list[Stream]:
    return [Stream(i) for i in range(start, start + count)]


async def run_hotline(steps: list[int], window: float, port: int, workdir: Path) -> list[Row]:
    rows: list[Row] = []
    loop = asyncio.get_running_loop()
    with hotline_server(port, port + 1, workdir, max(steps)) as pid:
        _, uac = await loop.create_datagram_endpoint(
            lambda: Uac(("127.0.0.1", port)), local_addr=("127.0.0.1", 0)
        )
        pacer = Pacer()
        pacer.start()
        calls: list[tuple[Request, Response]] = []
        for step in steps:
            new = await open_streams(step - len(pacer.streams), len(pacer.streams))
            for stream in new:
                ok, invite = await uac.invite(stream.index, stream.port)
                sdp = SessionDescription.parse(ok.body)
                stream.remote = ("127.0.0.1", sdp.media[0].port)
                pacer.streams.append(stream)
                calls.append((invite, ok))
                await asyncio.sleep(0.01)  # 100 calls/s set-up
            await asyncio.sleep(2.0)  # settle: greetings start, jitter buffers fill
            digits = asyncio.create_task(press_digits(pacer.streams))
            before = media_status(port + 1)
            row = await measure("hotline", pid, pacer.streams, window)
            after = media_status(port + 1)
            row.underruns += after.get("skipped_frames", 0) - before.get("skipped_frames", 0)
            late = after.get("ticks_late_over_5ms", 0) - before.get("ticks_late_over_5ms", 0)
            gen2 = after["gc"]["collections"][2] - before["gc"]["collections"][2]
            row.note = (
                f"ticks late >5 ms: {late}, gen-2 GCs: {gen2} (max pause "
                f"{after['gc']['max_pause_ms'][2]} ms)"
            )
            digits.cancel()
            rows.append(row)
            print_row(row, sys.stderr)
        for invite, ok in calls:
            await uac.bye(invite, ok)
        pacer.stop()
        for stream in pacer.streams:
            stream.close()
    return rows


async def press_digits(streams: list[Stream]) -> None:
    """Every call presses a digit about every 5 s (spread over the calls)."""
    i = 0
    while True:
        await asyncio.sleep(5.0 / max(1, len(streams)))
        streams[i % len(streams)].queue_digit("123456789"[i % 9])
        i += 1


async def run_echo(steps: list[int], window: float, base: int) -> list[Row]:
    rows: list[Row] = []
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        ECHO_SERVER,
        str(base),
        str(max(steps)),
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    await proc.stdout.readline()
    pacer = Pacer()
    pacer.start()
    try:
        for step in steps:
            for stream in await open_streams(step - len(pacer.streams), len(pacer.streams)):
                stream.remote = ("127.0.0.1", base + 2 * stream.index)
                pacer.streams.append(stream)
            await asyncio.sleep(1.0)
            row = await measure("bare echo", proc.pid, pacer.streams, window)
            rows.append(row)
            print_row(row, sys.stderr)
    finally:
        pacer.stop()
        for stream in pacer.streams:
            stream.close()
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        await proc.wait()
    return rows


def print_row(row: Row, out: object = sys.stdout) -> None:
    print(
        f"{row.target:<10} {row.calls:>6} {row.pps_out:>9.0f} {row.p1:>6.1f} {row.p50:>6.1f} "
        f"{row.p99:>6.1f} {row.underruns:>9} {row.cpu_pct:>6.1f} {row.cpu_pct / row.calls:>8.3f} "
        f"{'ok' if row.ok else 'FAIL':>4}  {row.note}",
        file=out,
        flush=True,
    )  # type: ignore[arg-type]


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", default="100,200,300,400,500,600,800")
    parser.add_argument("--window", type=float, default=10.0, help="seconds measured per step")
    parser.add_argument("--port", type=int, default=26060)
    args = parser.parse_args()
    steps = sorted(int(s) for s in args.steps.split(","))
    raise_fd_limit()
    with tempfile.TemporaryDirectory(prefix="hotline-media-") as tmp:
        rows = await run_hotline(steps, args.window, args.port, Path(tmp))
    rows += await run_echo(steps, args.window, 40000)
    print(
        "\ninterval between packets sent on one call (ms); underrun = interval > 40 ms "
        "or a frame the server skipped; cpu = the answering process"
    )
    print(
        f"{'target':<10} {'calls':>6} {'pkt/s':>9} {'p1':>6} {'p50':>6} {'p99':>6} "
        f"{'underruns':>9} {'cpu %':>6} {'cpu/call':>8} {'':>4}"
    )
    for row in rows:
        print_row(row)
    for target in ("hotline", "bare echo"):
        good = [r.calls for r in rows if r.target == target and r.ok]
        best = max(good, default=0)
        print(f"{target}: highest N within 20 ± 5 ms (p1/p99) with no underruns: {best}")


if __name__ == "__main__":
    uvloop.run(main())
