"""GET /api/v1/live and the wallboard page over a real RoutingService and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from hotline.config import Config
from hotline.health import Health
from hotline.http import create_app
from hotline.services import Services
from hotline.store import Store
from routing import QueueRequest
from routing.model import QueueConfig
from routing.service import RoutingService
from tests.routing.fakes import Desk, FakeCall, seed

Client = TestClient[Any, Any]


@pytest.fixture
async def routing(store: Store, tmp_path: Path) -> AsyncIterator[RoutingService]:
    await seed(
        store,
        [QueueConfig("orders", {"orders": 1}, ring_timeout=30, wrap_up=60, announce_every=3600)],
        {"agent1": {"orders": 3}},
    )
    service = RoutingService(store, node="test", voicemail_dir=tmp_path / "vm", screen_pop=None)
    await service.start()
    yield service
    await service.stop()


@pytest.fixture
async def client(store: Store, routing: RoutingService) -> AsyncIterator[Client]:
    services = Services(Config(), store, routing=routing)
    await store.users.add_user("sue", "sue-secret", "supervisor")
    await store.users.add_user("al", "al-secret", "agent")
    async with TestClient(TestServer(create_app(Health(store, None), store, services))) as c:
        yield c


async def token(client: Client, username: str, password: str) -> str:
    response = await client.post("/api/v1/login", json={"username": username, "password": password})
    assert response.status == 200
    issued: str = (await response.json())["token"]
    return issued


async def test_supervisor_sees_waiting_callers_and_agent_states(
    client: Client, routing: RoutingService
) -> None:
    session = await routing.sign_in("agent1")
    desk = Desk(session)
    await desk.wait_for("state")
    caller = asyncio.ensure_future(routing.enqueue(FakeCall("c1"), QueueRequest("orders")))  # type: ignore[arg-type]
    while not routing.metrics()["queues"]["orders"]["waiting"]:  # enqueued on the next turns
        await asyncio.sleep(0)
    headers = {"Authorization": f"Bearer {await token(client, 'sue', 'sue-secret')}"}
    response = await client.get("/api/v1/live", headers=headers)
    assert response.status == 200
    live = await response.json()
    assert live["queues"]["orders"]["waiting"] == 1
    assert live["queues"]["orders"]["longest_wait"] >= 0
    assert live["agents"]["agent1"]["state"] == "not_ready"
    assert "since" not in live["agents"]["agent1"]  # a process clock means nothing to a browser
    caller.cancel()
    await desk.close()


async def test_agents_may_not_read_the_wallboard(client: Client) -> None:
    headers = {"Authorization": f"Bearer {await token(client, 'al', 'al-secret')}"}
    response = await client.get("/api/v1/live", headers=headers)
    assert response.status == 403
    assert (await client.get("/api/v1/live")).status == 401


async def test_wallboard_page_is_served(client: Client) -> None:
    page = await client.get("/supervisor/wallboard")
    assert page.status == 200 and "Wallboard" in await page.text()
    script = await client.get("/supervisor/wallboard.js")
    assert script.status == 200 and "/api/v1/live" in await script.text()


async def test_without_an_acd_the_figures_are_unavailable(store: Store) -> None:
    await store.users.add_user("sue", "sue-secret", "supervisor")
    app = create_app(Health(store, None), store, Services(Config(), store))
    async with TestClient(TestServer(app)) as client:
        headers = {"Authorization": f"Bearer {await token(client, 'sue', 'sue-secret')}"}
        response = await client.get("/api/v1/live", headers=headers)
        assert response.status == 503
        assert "ACD" in (await response.json())["error"]
