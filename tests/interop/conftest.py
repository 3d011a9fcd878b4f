"""Fixtures for tests against real peers: an in-process Hotline and a SIPp runner."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import shutil
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hotline.app import Hotline
from hotline.config import Config

SCENARIOS = Path(__file__).parent / "scenarios"


def free_port(kinds: tuple[int, ...] = (socket.SOCK_DGRAM, socket.SOCK_STREAM)) -> int:
    """A loopback port free for UDP and TCP at once (SIP binds both)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        try:
            for kind in kinds:
                with socket.socket(socket.AF_INET, kind) as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port")


@dataclass
class SippResult:
    rc: int
    stats: dict[str, str]
    log: str

    @property
    def successful(self) -> int:
        return int(self.stats.get("SuccessfulCall(C)", "0"))

    @property
    def failed(self) -> int:
        return int(self.stats.get("FailedCall(C)", "0"))


@pytest.fixture(scope="session")
def sipp_binary() -> str:
    path = shutil.which("sipp")
    if path is None:  # make test installs it (Debian sip-tester); never skip silently
        pytest.fail("sipp is not installed: run `make test`, which installs Debian's sip-tester")
    return path


@pytest.fixture
def run_sipp(sipp_binary: str, tmp_path: Path) -> Callable[..., Any]:
    """Run SIPp to completion (bounded) and parse its final statistics row."""

    async def run(*args: str, timeout: float = 60) -> SippResult:
        local_port = free_port()
        stat = tmp_path / f"stat-{local_port}.csv"
        argv = [
            sipp_binary,
            *args,
            "-i",
            "127.0.0.1",
            "-p",
            str(local_port),
            "-nostdin",
            "-recv_timeout",
            "10s",
            "-trace_stat",
            "-stf",
            str(stat),
            "-trace_err",
        ]
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            proc.kill()
            out, _ = await proc.communicate()
        errors = "".join(p.read_text(errors="replace") for p in tmp_path.glob("*_errors.log"))
        stats: dict[str, str] = {}
        if stat.exists():
            rows = list(csv.reader(stat.open(), delimiter=";"))
            stats = dict(zip(rows[0], rows[-1], strict=False))
        return SippResult(proc.returncode or 0, stats, out.decode(errors="replace") + errors)

    return run


@pytest.fixture
def hotline_config(config: Config) -> Config:
    """A demo server on loopback with its own free ports."""
    return dataclasses.replace(
        config,
        sip_host="127.0.0.1",
        sip_port=free_port(),
        http_host="127.0.0.1",
        http_port=0,
        rtp_ports=(40000, 40999),
        demo=True,
    )


@pytest.fixture
async def hotline(hotline_config: Config) -> AsyncIterator[Hotline]:
    async with Hotline(hotline_config) as running:
        yield running


async def wait_for(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll an async predicate until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await predicate()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.05)
