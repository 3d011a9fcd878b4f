"""The demo ACD data and the wiring in `hotline.services`."""

from __future__ import annotations

import dataclasses

from hotline.config import Config
from hotline.services import start_services
from hotline.store import Store
from routing.demo import DEMO_AGENTS, DEMO_QUEUES, seed_routing_demo
from routing.service import RoutingService
from routing.store import RoutingStore


async def test_demo_seed_is_idempotent_and_agents_can_sign_in(store: Store) -> None:
    await seed_routing_demo(store)
    await seed_routing_demo(store)
    rows = RoutingStore(store.pool)
    assert [q.name for q in await rows.queues()] == sorted(q.name for q in DEMO_QUEUES)
    for username, password, skills, languages in DEMO_AGENTS:
        user = await store.users.authenticate(username, password)
        assert user is not None and user.role == "agent"
        row = await rows.agent(username)
        assert row is not None and row.skills == skills and row.languages == languages
    service = RoutingService(store, node="demo", screen_pop=None)
    await service.start()
    try:
        session = await service.sign_in("agent1")
        assert session.snapshot()["state"] == "not_ready"
        assert service.queues() == ["billing", "orders", "returns"]
        info = service.agent_info("agent1")
        assert info is not None and info["languages"] == ["en", "pl"]
    finally:
        await service.stop()
    assert (await rows.agent("agent1")).state == "offline"  # type: ignore[union-attr]


async def test_services_wire_the_acd(store: Store, config: Config) -> None:
    services = await start_services(dataclasses.replace(config, demo=True), store)
    try:
        assert isinstance(services.routing, RoutingService)
        assert services.routing.queues() == ["billing", "orders", "returns"]
        assert services.routing.wrap_up_hooks  # the CRM write-back
    finally:
        for _, stop in reversed(services.stops):
            await stop()
