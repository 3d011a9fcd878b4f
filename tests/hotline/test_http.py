"""GET /healthz: 200 only when SIP, HTTP and the database are all up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from hotline import __version__
from hotline.health import Health
from hotline.http import create_app
from hotline.store import Store


class FakeSip:
    def __init__(self) -> None:
        self.running = True
        self.broken = False

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def status(self) -> dict[str, Any]:
        if self.broken:
            raise RuntimeError("transport gone")
        return {"running": self.running, "listen": ["udp:127.0.0.1:5060"]}


@pytest.fixture
def sip() -> FakeSip:
    return FakeSip()


@pytest.fixture
def health(store: Store, sip: FakeSip) -> Health:
    health = Health(store, sip)
    health.http_up = health.sip_up = True
    return health


@pytest.fixture
async def client(health: Health, store: Store) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(create_app(health, store))) as test_client:
        yield test_client


async def get_health(client: TestClient[Any, Any]) -> tuple[int, dict[str, Any]]:
    response = await client.get("/healthz")
    return response.status, await response.json()


async def test_all_up_is_200(client: TestClient[Any, Any]) -> None:
    status, body = await get_health(client)
    assert status == 200
    gc_figures = body.pop("gc")
    assert body == {
        "status": "ok",
        "sip": {"enabled": True, "running": True, "listen": ["udp:127.0.0.1:5060"]},
        "database": "ok",
        "version": __version__,
    }
    assert set(gc_figures) == {"collections", "max_pause_ms"}


async def test_sip_not_started_yet_is_503(client: TestClient[Any, Any], health: Health) -> None:
    health.sip_up = False
    status, body = await get_health(client)
    assert (status, body["status"]) == (503, "unavailable")


async def test_sip_not_running_is_503(client: TestClient[Any, Any], sip: FakeSip) -> None:
    sip.running = False
    assert (await get_health(client))[0] == 503


async def test_broken_sip_status_is_503(client: TestClient[Any, Any], sip: FakeSip) -> None:
    sip.broken = True
    status, body = await get_health(client)
    assert status == 503
    assert body["sip"] == {"enabled": True, "error": "transport gone"}


async def test_stopping_is_503(client: TestClient[Any, Any], health: Health) -> None:
    health.stopping = True
    status, body = await get_health(client)
    assert (status, body["status"]) == (503, "stopping")


async def test_database_down_is_503(client: TestClient[Any, Any], store: Store) -> None:
    await store.pool.close()
    status, body = await get_health(client)
    assert status == 503
    assert body["database"].startswith("error: ")


async def test_without_sip_service_is_200(store: Store) -> None:
    health = Health(store, None)  # a process with web and database only
    health.http_up = True
    async with TestClient(TestServer(create_app(health, store))) as client:
        status, body = await get_health(client)
    assert status == 200
    assert body["sip"]["enabled"] is False


async def test_index(client: TestClient[Any, Any]) -> None:
    response = await client.get("/")
    assert response.status == 200
    assert "/healthz" in await response.text()
