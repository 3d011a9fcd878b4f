"""The process lifecycle in-process: start order, readiness, shutdown order."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from hotline.app import Hotline, purge_registrations
from hotline.config import Config
from hotline.store import Binding, Store


class RecordingSip:
    """A SIP service that checks, while it stops, that HTTP and the pool are still there."""

    def __init__(self, config: Config, store: Store, log: list[str]) -> None:
        self.store = store
        self.log = log
        self.running = False
        self.http_url = ""

    async def start(self) -> None:
        self.running = True
        self.log.append("sip started")

    async def stop(self) -> None:
        self.running = False
        await self.store.ping()  # the pool must still be open
        async with aiohttp.ClientSession() as session, session.get(self.http_url) as response:
            self.log.append(f"sip stopping, healthz {response.status}")
        self.log.append("sip stopped")

    def status(self) -> dict[str, Any]:
        return {"running": self.running}


async def test_start_ready_and_stop_in_order(config: Config) -> None:
    log: list[str] = []
    sips: list[RecordingSip] = []

    def factory(cfg: Config, store: Store, services: object) -> RecordingSip:
        sips.append(RecordingSip(cfg, store, log))
        return sips[0]

    config = dataclasses.replace(config, http_host="127.0.0.1", http_port=0, demo=True)
    hotline = Hotline(config, sip_factory=factory)
    async with hotline:
        assert hotline.http is not None and hotline.store is not None
        url = f"http://127.0.0.1:{hotline.http.port}/healthz"
        sips[0].http_url = url
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            assert response.status == 200
            assert (await response.json())["sip"] == {"enabled": True, "running": True}
        assert await hotline.store.users.get("supervisor") is not None
        assert "Hotline is up: SIP sip:hotline@127.0.0.1:5060 (UDP+TCP)" in hotline.banner()
        assert f"web http://127.0.0.1:{hotline.http.port}/" in hotline.banner()
        assert len(hotline.tasks) == 1
        pool = hotline.store.pool
    assert log == ["sip started", "sip stopping, healthz 503", "sip stopped"]
    assert pool.is_closing()
    assert len(hotline.tasks) == 0
    with pytest.raises(aiohttp.ClientConnectionError):
        async with aiohttp.ClientSession() as session:
            await session.get(url)


async def test_busy_http_port_fails_start_and_cleans_up(config: Config) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        hotline = Hotline(
            dataclasses.replace(config, http_host="127.0.0.1", http_port=port),
            sip_factory=lambda cfg, store, services: None,
        )
        with pytest.raises(OSError):
            await hotline.start()
    assert hotline.store is not None and hotline.store.pool.is_closing()


async def test_purge_registrations_runs_periodically(store: Store) -> None:
    now = datetime.now(UTC)
    await store.registrations.upsert(Binding("sip:a@h", "<sip:a@1.2.3.4>", now, "c", 1))
    await store.registrations.upsert(
        Binding("sip:b@h", "<sip:b@1.2.3.4>", now + timedelta(hours=1), "c", 1)
    )
    task = asyncio.create_task(purge_registrations(store, interval=0.01))
    try:
        for _ in range(200):
            if await store.pool.fetchval("SELECT count(*) FROM registrations") == 1:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
    assert await store.pool.fetchval("SELECT aor FROM registrations") == "sip:b@h"
