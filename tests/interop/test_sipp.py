"""SIPp, a real SIP peer over real sockets, against an in-process Hotline.

Built-in ``uac`` over UDP and TCP, a CANCEL while ringing, REGISTER with
digest (right and wrong password), and a server shutdown that ends a live
call with BYE.  Each run's pass/fail comes from SIPp's own statistics.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest

from hotline.app import Hotline
from hotline.config import Config
from hotline.store import CallRecord

from .conftest import SCENARIOS, wait_for

pytestmark = pytest.mark.peer


def sip_target(hotline: Hotline) -> str:
    return f"127.0.0.1:{hotline.config.sip_port}"


async def ended_calls(hotline: Hotline, expected: int) -> list[CallRecord]:
    assert hotline.store is not None
    store = hotline.store

    async def all_ended() -> list[CallRecord] | None:
        records = await store.calls.recent(limit=expected + 10)
        done = [r for r in records if r.state == "ended"]
        return done if len(done) >= expected else None

    return await wait_for(all_ended) or await store.calls.recent(limit=expected + 10)


@pytest.fixture
async def silent_hotline(hotline_config: Config) -> AsyncIterator[Hotline]:
    """Answers and stays silent (no demo application): signalling only."""
    async with Hotline(dataclasses.replace(hotline_config, demo=False)) as running:
        yield running


@pytest.mark.parametrize("transport", ["u1", "t1"], ids=["udp", "tcp"])
async def test_builtin_uac_scenario(
    silent_hotline: Hotline, run_sipp: Any, transport: str
) -> None:
    hotline = silent_hotline
    result = await run_sipp(
        "-sn", "uac", sip_target(hotline), "-t", transport, "-m", "30", "-r", "30"
    )
    assert result.rc == 0, result.log
    assert (result.successful, result.failed) == (30, 0)

    records = await ended_calls(hotline, 30)
    assert len(records) == 30
    for record in records:
        assert record.end_reason == "remote_bye"
        assert record.answered_at is not None and record.ended_at is not None
        assert record.from_uri.startswith("sip:sipp@127.0.0.1")
        assert [e["type"] for e in record.events] == ["hangup"]
        assert record.events[-1]["reason"] == "remote_bye"
    assert hotline.sip is not None
    assert hotline.sip.status()["rtp_ports_in_use"] == 0  # every call gave its port back


@pytest.fixture
async def ringing_hotline(hotline_config: Config) -> AsyncIterator[Hotline]:
    """A server that rings 5 s before answering, so the caller can CANCEL."""
    async with Hotline(dataclasses.replace(hotline_config, answer_delay=5.0)) as running:
        yield running


async def test_cancel_while_ringing(ringing_hotline: Hotline, run_sipp: Any) -> None:
    result = await run_sipp(
        "-sf", str(SCENARIOS / "cancel.xml"), sip_target(ringing_hotline), "-m", "3", "-r", "3"
    )
    assert result.rc == 0, result.log
    assert (result.successful, result.failed) == (3, 0)
    records = await ended_calls(ringing_hotline, 3)
    assert [r.end_reason for r in records] == ["cancelled"] * 3
    assert all(r.answered_at is None for r in records)
    assert ringing_hotline.sip is not None
    assert ringing_hotline.sip.status()["rtp_ports_in_use"] == 0


@pytest.fixture
async def md5_hotline(hotline_config: Config) -> AsyncIterator[Hotline]:
    """SIPp answers only the first challenge and knows only MD5: offer MD5 first."""
    config = dataclasses.replace(hotline_config, digest_algorithms=("MD5", "SHA-256"))
    async with Hotline(config) as running:
        yield running


async def test_register_with_digest(md5_hotline: Hotline, run_sipp: Any, tmp_path: Any) -> None:
    users = tmp_path / "users.csv"
    users.write_text("SEQUENTIAL\n1001;1001pass\n")
    result = await run_sipp(
        "-sf",
        str(SCENARIOS / "register_digest.xml"),
        sip_target(md5_hotline),
        "-inf",
        str(users),
        "-au",
        "1001",
        "-ap",
        "1001pass",
        "-m",
        "1",
    )
    assert result.rc == 0, result.log
    assert (result.successful, result.failed) == (1, 0)
    assert md5_hotline.store is not None
    aor = "sip:1001@127.0.0.1"
    from datetime import UTC, datetime

    assert await md5_hotline.store.registrations.bindings(aor, datetime.now(UTC)) == []


async def test_register_wrong_password_is_forbidden(
    md5_hotline: Hotline, run_sipp: Any, tmp_path: Any
) -> None:
    users = tmp_path / "users.csv"
    users.write_text("SEQUENTIAL\n1001;1001pass\n")
    result = await run_sipp(
        "-sf",
        str(SCENARIOS / "register_wrong_password.xml"),
        sip_target(md5_hotline),
        "-inf",
        str(users),
        "-au",
        "1001",
        "-ap",
        "not-the-password",
        "-m",
        "1",
    )
    assert result.rc == 0, result.log
    assert (result.successful, result.failed) == (1, 0)


async def test_shutdown_ends_live_call_with_bye(hotline: Hotline, run_sipp: Any) -> None:
    """SIGTERM's path: stop taking calls, BYE every live call, record it (§15)."""
    call = asyncio.create_task(
        run_sipp("-sf", str(SCENARIOS / "uac_until_bye.xml"), sip_target(hotline), "-m", "1")
    )
    assert hotline.sip is not None and hotline.store is not None
    sip, store = hotline.sip, hotline.store

    async def one_call_up() -> bool:
        return bool(sip.status()["active_calls"] == 1)

    assert await wait_for(one_call_up)

    async def recorded() -> list[CallRecord]:
        return await store.calls.recent(limit=1)

    records_before = await wait_for(recorded)
    await hotline.stop()
    result = await call
    assert result.rc == 0, result.log
    assert (result.successful, result.failed) == (1, 0)
    assert records_before and records_before[0].state != "ended"


async def udp_exchange(data: bytes, port: int, timeout: float = 5.0) -> bytes:
    """Send one datagram to the server and return the first reply."""
    loop = asyncio.get_running_loop()
    reply: asyncio.Future[bytes] = loop.create_future()

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            if not reply.done():
                reply.set_result(data)

    transport, _ = await loop.create_datagram_endpoint(Client, remote_addr=("127.0.0.1", port))
    try:
        transport.sendto(data)
        return await asyncio.wait_for(reply, timeout)
    finally:
        transport.close()


def options(call_id: str, extra: str = "") -> bytes:
    return (
        "OPTIONS sip:hotline@127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{call_id};rport\r\n"
        "From: <sip:probe@example.org>;tag=p1\r\nTo: <sip:hotline@example.org>\r\n"
        f"Call-ID: {call_id}\r\n{extra}Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    ).encode()


async def test_options_ping_answered(hotline: Hotline) -> None:
    """A keep-alive / health probe: OPTIONS gets 200 with Allow (RFC 3261 §11)."""
    reply = await udp_exchange(options("ping1", "CSeq: 1 OPTIONS\r\n"), hotline.config.sip_port)
    assert reply.startswith(b"SIP/2.0 200 OK\r\n")
    assert b"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REGISTER\r\n" in reply


async def test_malformed_request_gets_400_and_server_goes_on(
    hotline: Hotline, run_sipp: Any
) -> None:
    reply = await udp_exchange(options("bad1", "CSeq: x OPTIONS\r\n"), hotline.config.sip_port)
    status_line = reply.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"SIP/2.0 400 ")
    assert b"CSeq" in status_line  # the reason phrase names the fault
    await udp_exchange_garbage(hotline.config.sip_port)
    result = await run_sipp("-sn", "uac", sip_target(hotline), "-m", "2", "-r", "10")
    assert (result.rc, result.successful) == (0, 2), result.log


async def udp_exchange_garbage(port: int) -> None:
    """Unparseable datagrams are dropped without an answer."""
    with pytest.raises(TimeoutError):
        await udp_exchange(b"\x00\xffgarbage\r\n\r\n", port, timeout=0.5)
