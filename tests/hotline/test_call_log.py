"""The write-behind call log against a real PostgreSQL: batching, order, outages."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from hotline.store import Store
from hotline.store.call_log import CallLog


def at(seconds: float) -> datetime:
    return datetime(2026, 11, 23, 12, 0, tzinfo=UTC) + timedelta(seconds=seconds)


async def test_many_calls_in_few_batches(store: Store) -> None:
    log = CallLog(store.pool, node="n1")
    writer = asyncio.create_task(log.run())
    handles = [log.start(f"c{i}", f"sip:{i}@x", "sip:hotline@y", None, at(i)) for i in range(300)]
    for i, handle in enumerate(handles):
        log.answered(handle, at(i + 1))
        log.event(handle, {"type": "dtmf", "digit": "1"})
        log.event(handle, {"type": "dtmf", "digit": "2"})
        log.ended(handle, at(i + 5), "remote_bye")
    await asyncio.wait_for(log.drain(), 10)
    writer.cancel()

    assert log.batches_written <= 3  # all of it piled up before the writer ran
    records = {r.call_id: r for r in await store.calls.recent(limit=500)}
    assert len(records) == 300
    record = records["c7"]
    assert (record.state, record.end_reason, record.node) == ("ended", "remote_bye", "n1")
    assert (record.started_at, record.answered_at, record.ended_at) == (at(7), at(8), at(12))
    assert [e["digit"] for e in record.events] == ["1", "2"]
    assert handles[7].id == record.id


async def test_events_keep_their_order_across_batches(store: Store) -> None:
    log = CallLog(store.pool)
    writer = asyncio.create_task(log.run())
    handle = log.start("c1", "sip:a@x", "sip:b@y", "A", at(0))
    for digit in "0123456789":
        log.event(handle, {"type": "dtmf", "digit": digit})
        await asyncio.sleep(0.01)  # let each land in its own batch
    log.ended(handle, at(3), "remote_bye")
    await asyncio.wait_for(log.drain(), 10)
    writer.cancel()
    [record] = await store.calls.recent()
    assert "".join(e["digit"] for e in record.events) == "0123456789"


async def test_database_connections_killed_mid_stream_lose_nothing(store: Store) -> None:
    """pg_terminate_backend drops every pooled connection while calls keep coming."""
    log = CallLog(store.pool)
    writer = asyncio.create_task(log.run())
    admin = await store.pool.acquire()
    try:
        for i in range(200):
            handle = log.start(f"c{i}", "sip:a@x", "sip:b@y", None, at(i))
            log.event(handle, {"type": "dtmf", "digit": str(i % 10)})
            log.ended(handle, at(i + 1), "remote_bye")
            if i % 50 == 25:
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            await asyncio.sleep(0.002)
        await asyncio.wait_for(log.drain(), 30)
    finally:
        await store.pool.release(admin)
        writer.cancel()
    records = await store.calls.recent(limit=500)
    assert len(records) == 200
    assert all(r.state == "ended" and len(r.events) == 1 for r in records)
