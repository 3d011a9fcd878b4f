"""The routing rows: reservations under contention, stale reservations and lost processes."""

from __future__ import annotations

import asyncio

from hotline.store import Store
from routing.model import AgentState, QueueConfig, Waiting
from routing.store import RoutingStore
from tests.routing.fakes import seed

T = 1_800_000_000.0


def waiting(call_id: str) -> Waiting:
    return Waiting(call_id, "orders", {"orders": 1}, "en", 0, T, T, 0)


async def setup(store: Store) -> RoutingStore:
    await seed(store, [QueueConfig("orders", {"orders": 1})], {"agent1": {"orders": 2}})
    rows = RoutingStore(store.pool)
    await rows.record_state("agent1", AgentState.AVAILABLE, None, T, "n1")
    return rows


async def test_concurrent_reservations_of_one_agent_let_exactly_one_win(store: Store) -> None:
    rows = await setup(store)
    for i in range(8):
        await rows.add_waiting(waiting(f"c{i}"), "n1")
    results = await asyncio.gather(*(
        rows.reserve(f"o{i}", f"c{i}", "agent1", "orders", f"n{i}", T, T + 15) for i in range(8)
    ))  # fmt: skip
    assert sum(results) == 1
    agent = await rows.agent("agent1")
    assert agent is not None and agent.state is AgentState.RESERVED
    assert [r["call_id"] for r in await rows.reservations()] == [f"c{results.index(True)}"]
    # the same call for nobody else, either
    assert not await rows.reserve("again", f"c{results.index(True)}", "agent1", "orders", "n", T, T)


async def test_a_stale_reservation_expires_and_frees_the_call(store: Store) -> None:
    rows = await setup(store)
    await rows.add_waiting(waiting("c1"), "dead")
    assert await rows.reserve("o1", "c1", "agent1", "orders", "dead", T, T + 15)
    assert await rows.expire_stale(T + 20, slack=10) == []  # within the slack
    assert await rows.expire_stale(T + 30, slack=10) == ["agent1"]
    agent = await rows.agent("agent1")
    assert agent is not None and (agent.state, agent.reason) == (AgentState.NOT_READY, "expired")
    [row] = await rows.waiting()
    assert row["state"] == "waiting"
    assert (await rows.reservations())[0]["outcome"] == "expired"


async def test_agents_held_by_a_silent_process_are_released(store: Store) -> None:
    rows = await setup(store)
    await rows.heartbeat("dead", T)
    await rows.heartbeat("alive", T + 50)
    await rows.add_waiting(waiting("c1"), "dead")
    assert await rows.reserve("o1", "c1", "agent1", "orders", "dead", T, T + 15)
    await rows.record_state("agent1", AgentState.ON_CALL, None, T + 1, "dead", call_id="c1")
    assert await rows.release_lost_nodes(T + 60, silent_for=30) == ["agent1"]
    agent = await rows.agent("agent1")
    assert agent is not None and (agent.state, agent.reason) == (AgentState.NOT_READY, "node_lost")
    assert await rows.waiting() == []
    states = [state for state, _, _ in await rows.history("agent1")]
    assert states == ["available", "reserved", "on_call", "not_ready"]


async def test_skill_levels_are_checked(store: Store) -> None:
    rows = await setup(store)
    try:
        await rows.save_agent("agent1", {"orders": 6}, ["en"])
    except ValueError as exc:
        assert "1-5" in str(exc)
    else:
        raise AssertionError("level 6 accepted")
