"""Write-back through the outbox: durable, retried, exactly once, through database hiccups."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from crm_bridge import Interaction
from crm_bridge import demo as d
from crm_bridge.outbox import Outbox, retry_delay
from crm_bridge.postgres import PostgresCrm
from hotline.store import Store

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def _interaction(n: int = 1, **kwargs: Any) -> Interaction:
    fields: dict[str, Any] = {
        "call_id": f"call-{n}@host",
        "started_at": NOW - timedelta(minutes=5),
        "ended_at": NOW,
        "phone": d.DEMO_CUSTOMER_PHONE,
        "queue": "orders",
        "agent": "agent1",
        "disposition": "order_status",
        "notes": f"call {n}",
        "resolved": True,
    }
    fields.update(kwargs)
    return Interaction(**fields)


async def _stored(store: Store, key: str | None = None) -> int:
    if key is None:
        return await store.pool.fetchval(
            "SELECT count(*) FROM crm_interactions WHERE key NOT LIKE 'demo-%'"
        )
    return await store.pool.fetchval("SELECT count(*) FROM crm_interactions WHERE key = $1", key)


@pytest.fixture
async def crm(store: Store) -> PostgresCrm:
    return await d.seed_crm_demo(store, now=NOW)


@pytest.fixture
async def admin(postgres_url: str) -> AsyncIterator[Any]:
    conn = await asyncpg.connect(postgres_url)
    yield conn
    await conn.close()


async def _kill_connections(admin: Any, store: Store) -> int:
    database = await store.pool.fetchval("SELECT current_database()")
    killed: int = await admin.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE datname = $1 AND pid <> pg_backend_pid()",
        database,
    )
    return killed


def test_retry_delay_grows_and_caps() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert retry_delay(30) == 300.0


async def test_next_call_shows_the_written_back_interaction(crm: PostgresCrm) -> None:
    await crm.record_interaction(_interaction(ivr_path=("welcome", "menu")))
    customer = await crm.customer_by_phone(d.DEMO_CUSTOMER_PHONE)
    assert customer is not None
    latest = (await crm.history(customer.id))[0]
    assert latest.call_id == "call-1@host" and latest.ivr_path == ("welcome", "menu")
    assert await crm.outbox.pending() == 0


async def test_survives_killed_connections(crm: PostgresCrm, store: Store, admin: Any) -> None:
    await crm.record_interaction(_interaction(1))
    assert await _kill_connections(admin, store) >= 1
    await crm.record_interaction(_interaction(2))  # the pool's connection died under it
    await crm.outbox.flush(NOW + timedelta(hours=1))
    assert await _stored(store) == 2
    assert await crm.outbox.pending() == 0


async def test_database_refusing_connections_parks_then_delivers_once(
    crm: PostgresCrm, store: Store, admin: Any
) -> None:
    database = await store.pool.fetchval("SELECT current_database()")
    await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
    try:
        await _kill_connections(admin, store)
        await crm.record_interaction(_interaction(1))  # must not raise: wrap-up goes on
        assert crm.outbox.parked == 1
        with pytest.raises(Exception):  # noqa: B017 - still down: the relay will try again
            await crm.outbox.flush()
        assert crm.outbox.parked == 1
    finally:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
    assert await crm.outbox.flush(NOW + timedelta(hours=1)) == 1
    await crm.outbox.flush(NOW + timedelta(hours=2))
    assert crm.outbox.parked == 0 and await _stored(store) == 1


class FlakySink:
    """Fails ``failures`` times, then stores through the real CRM."""

    def __init__(self, crm: PostgresCrm, failures: int) -> None:
        self.crm = crm
        self.failures = failures
        self.attempts = 0

    async def deliver(self, interaction: Interaction, conn: Any) -> None:
        self.attempts += 1
        await self.crm.deliver(interaction, conn)  # written, then rolled back on failure
        if self.attempts <= self.failures:
            raise RuntimeError("CRM answered 503")


async def test_failed_delivery_is_retried_with_backoff(crm: PostgresCrm, store: Store) -> None:
    sink = FlakySink(crm, failures=2)
    outbox = Outbox(store.pool, sink, clock=lambda: NOW)
    await outbox.put(_interaction(1))
    assert sink.attempts == 1 and await _stored(store) == 0
    row = await store.pool.fetchrow("SELECT attempts, next_attempt_at, last_error FROM crm_outbox")
    assert row["attempts"] == 1 and row["next_attempt_at"] == NOW + timedelta(seconds=1)
    assert "503" in row["last_error"]

    assert await outbox.deliver_due(NOW + timedelta(seconds=0.5)) == 0  # not due yet
    assert sink.attempts == 1
    assert await outbox.deliver_due(NOW + timedelta(seconds=1)) == 0  # fails again
    assert await outbox.deliver_due(NOW + timedelta(seconds=2)) == 0  # next one is at +3 s
    assert await outbox.deliver_due(NOW + timedelta(seconds=3)) == 1
    assert sink.attempts == 3 and await _stored(store) == 1
    assert await outbox.deliver_due(NOW + timedelta(days=1)) == 0  # delivered stays delivered


class KillerSink:
    """Has the database kill the delivering connection half-way through, once."""

    def __init__(self, crm: PostgresCrm, admin: Any) -> None:
        self.crm = crm
        self.admin = admin
        self.killed = False

    async def deliver(self, interaction: Interaction, conn: Any) -> None:
        await self.crm.deliver(interaction, conn)
        if not self.killed:
            self.killed = True
            pid = await conn.fetchval("SELECT pg_backend_pid()")
            await self.admin.execute("SELECT pg_terminate_backend($1)", pid)


async def test_connection_killed_mid_delivery_still_exactly_once(
    crm: PostgresCrm, store: Store, admin: Any
) -> None:
    outbox = Outbox(store.pool, KillerSink(crm, admin), clock=lambda: NOW)
    await outbox.put(_interaction(1))  # delivery dies before its commit: deferred
    assert await _stored(store) == 0
    assert await outbox.pending() == 1
    assert await outbox.flush() == 1
    assert await _stored(store) == 1 and await outbox.pending() == 0


async def test_two_relays_deliver_each_entry_once(crm: PostgresCrm, store: Store) -> None:
    for n in range(40):  # queue without delivering: a sink that is never reached
        await store.pool.execute(
            "INSERT INTO crm_outbox (key, payload) VALUES ($1, $2)",
            _interaction(n).idempotency_key,
            _interaction(n).to_json(),
        )
    relays = [Outbox(store.pool, crm), Outbox(store.pool, crm)]  # two server processes
    counts = await asyncio.gather(*(r.flush(NOW + timedelta(hours=1)) for r in relays))
    assert sum(counts) == 40
    assert await _stored(store) == 40


async def test_repeated_put_is_one_interaction(crm: PostgresCrm, store: Store) -> None:
    interaction = _interaction(7)
    await asyncio.gather(*(crm.record_interaction(interaction) for _ in range(5)))
    await crm.outbox.flush(NOW + timedelta(hours=1))
    assert await _stored(store, interaction.idempotency_key) == 1
    assert await store.pool.fetchval("SELECT count(*) FROM crm_outbox") == 1


async def test_relay_task_delivers_parked_entries(crm: PostgresCrm, store: Store) -> None:
    crm.outbox._parked.append(_interaction(9))  # as if the database had been away at wrap-up
    await crm.start()
    try:
        crm.outbox._wake.set()
        for _ in range(200):
            if await _stored(store) == 1:
                break
            await asyncio.sleep(0.01)
        assert await _stored(store) == 1 and crm.outbox.parked == 0
    finally:
        await crm.stop()
