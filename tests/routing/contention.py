"""Many callers, two agents, one ACD process: the piece the contention tests run twice.

Run by `test_contention.py` in-process (two `RoutingService` instances, each with its own pool)
and as ``python -m tests.routing.contention URL NODE CALLS`` (two OS processes).  Agents answer
every offer after a short random delay, talk briefly and hang up; the talk intervals are
returned (and printed as JSON by the CLI) so the test can check no agent talked twice at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
import time
from typing import Any

from hotline.config import Config
from hotline.store import Store, open_store
from routing import QueueRequest
from routing.agents import AgentError, AgentSession
from routing.model import QueueConfig
from routing.service import RoutingService
from tests.routing.fakes import FakeCall, seed

AGENTS = {"agent1": {"orders": 2}, "agent2": {"orders": 2}}
QUEUE = QueueConfig("orders", {"orders": 1}, ring_timeout=5.0, wrap_up=0.0, announce_every=3600)


async def prepare(store: Store) -> None:
    await seed(store, [QUEUE], AGENTS)


async def simulated_agent(session: AgentSession, talks: list[dict[str, Any]], node: str) -> None:
    """Answer every offer, talk 5-20 ms, hang up; note each talk's interval."""
    rng = random.Random(hash((node, session.username)))
    async for event in session.events():
        if event["type"] == "state" and event["state"] == "not_ready":
            # a ring missed on a loaded machine (RONA): a real agent clicks Ready again
            with contextlib.suppress(AgentError):
                await session.set_ready()
        if event["type"] != "offer":
            continue
        await asyncio.sleep(rng.uniform(0, 0.01))
        try:
            await session.answer(event["offer_id"])
        except AgentError:
            continue  # withdrawn meanwhile (RONA, caller gone)
        start = time.time()
        await asyncio.sleep(rng.uniform(0.005, 0.02))
        talks.append({"agent": session.username, "call": event["call"]["call_id"],
                      "node": node, "start": start, "end": time.time()})  # fmt: skip
        with contextlib.suppress(AgentError):
            await session.hangup()


async def run_instance(service: RoutingService, calls: int, prefix: str) -> dict[str, Any]:
    """Sign both agents in on ``service``, queue ``calls`` callers, wait for every outcome."""
    talks: list[dict[str, Any]] = []
    sessions = [await service.sign_in(name) for name in AGENTS]
    agents = [asyncio.ensure_future(simulated_agent(s, talks, service.node)) for s in sessions]
    for session in sessions:
        with contextlib.suppress(AgentError):
            await session.set_ready()
    callers = []
    for i in range(calls):
        call = FakeCall(f"{prefix}-{i}")
        callers.append(asyncio.ensure_future(service.enqueue(call, QueueRequest("orders"))))  # type: ignore[arg-type]
        await asyncio.sleep(0.003)
    outcomes = await asyncio.gather(*callers)
    for task in agents:
        task.cancel()
    await asyncio.gather(*agents, return_exceptions=True)
    return {
        "outcomes": [o.kind for o in outcomes],
        "talks": talks,
        "lost": service.lost_reservations,
    }


async def _main(url: str, node: str, calls: int) -> None:
    store = await open_store(Config(database_url=url))
    try:
        await prepare(store)
        service = RoutingService(store, node=node, resync_every=0.5, screen_pop=None)
        await service.start()
        try:
            result = await asyncio.wait_for(run_instance(service, calls, node), 120)
        finally:
            await service.stop()
    finally:
        await store.close()
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
