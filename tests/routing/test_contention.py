"""Two ACD processes on one database, two agents, many calls: never one call offered twice,
never one agent given two calls (reservations are row locks with SKIP LOCKED)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections import defaultdict
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from hotline.config import Config
from hotline.store import Store, open_store
from routing.service import RoutingService
from tests.routing.contention import prepare, run_instance

CALLS_PER_NODE = 30
ROOT = Path(__file__).resolve().parents[2]


def assert_no_double_offers(
    reservations: list[dict[str, Any]], talks: list[dict[str, Any]]
) -> None:
    """Open reservations never overlap per agent or per call; talks never overlap per agent."""
    for key in ("username", "call_id"):
        by: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in reservations:
            by[r[key]].append(r)
        for rows in by.values():
            rows.sort(key=lambda r: r["created_at"])
            for before, after in pairwise(rows):
                assert before["ended_at"] is not None
                assert before["ended_at"] <= after["created_at"], (key, before, after)
    answered = [r["call_id"] for r in reservations if r["outcome"] == "answered"]
    assert len(answered) == len(set(answered)), "a call was answered twice"
    per_agent: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for talk in talks:
        per_agent[talk["agent"]].append(talk)
    for items in per_agent.values():
        items.sort(key=lambda t: t["start"])
        for before, after in pairwise(items):
            assert before["end"] <= after["start"], ("agent talked twice at once", before, after)


async def test_two_instances_each_with_its_own_pool(store: Store, config: Config) -> None:
    await prepare(store)
    other = await open_store(config)
    a = RoutingService(store, node="a", resync_every=0.5, screen_pop=None)
    b = RoutingService(other, node="b", resync_every=0.5, screen_pop=None)
    await a.start()
    await b.start()
    try:
        results = await asyncio.wait_for(
            asyncio.gather(
                run_instance(a, CALLS_PER_NODE, "a"), run_instance(b, CALLS_PER_NODE, "b")
            ),
            120,
        )
    finally:
        await a.stop()
        await b.stop()
        await other.close()
    outcomes = [kind for r in results for kind in r["outcomes"]]
    assert outcomes == ["answered"] * (2 * CALLS_PER_NODE)
    talks = [t for r in results for t in r["talks"]]
    assert {t["node"] for t in talks} == {"a", "b"}
    assert {t["agent"] for t in talks} == {"agent1", "agent2"}
    reservations = await a.rows.reservations()
    assert_no_double_offers(reservations, talks)
    print(f"lost reservations: a={a.lost_reservations} b={b.lost_reservations}")
    assert await a.rows.waiting() == []


@pytest.mark.peer
async def test_two_os_processes(store: Store, database_url: str) -> None:
    await prepare(store)
    module = "tests.routing.contention"
    pipe = asyncio.subprocess.PIPE
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", module, database_url, node, str(CALLS_PER_NODE),
            cwd=ROOT, stdout=pipe, stderr=pipe,
        )
        for node in ("p1", "p2")
    ]  # fmt: skip
    try:
        outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in procs)), 150)
    finally:
        for p in procs:
            if p.returncode is None:
                p.kill()
                await p.wait()
    results = []
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()[-2000:]
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    outcomes = [kind for r in results for kind in r["outcomes"]]
    assert outcomes == ["answered"] * (2 * CALLS_PER_NODE)
    talks = [t for r in results for t in r["talks"]]
    assert {t["node"] for t in talks} == {"p1", "p2"}
    reservations = await store.pool.fetch("SELECT * FROM routing_reservations")
    assert_no_double_offers([dict(r) for r in reservations], talks)
