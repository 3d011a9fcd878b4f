"""The write-back outbox: interactions reach the CRM durably, with retries, once.

Wrap-up calls `Outbox.put`: one INSERT into ``crm_outbox`` (keyed by the interaction's
idempotency key, so a retried put is still one entry), then an attempt to deliver that
entry at once. Delivery claims the entry with ``FOR UPDATE SKIP LOCKED`` (two processes
never deliver one entry together), hands it to the sink on the same connection and
marks it delivered in the same transaction. A sink in this database therefore stores
each interaction exactly once; a remote sink gets at-least-once delivery with the
idempotency key to drop repeats.

A failed delivery is retried later (`retry_delay`, growing to five minutes); a put the
database could not take (connection killed, server restarting) is parked in memory and
retried by the relay, so a short database hiccup loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from crm_bridge.connector import InteractionSink
from crm_bridge.models import Interaction

log = logging.getLogger(__name__)

RETRY_BASE = 1.0  # seconds before the first retry
RETRY_MAX = 300.0
POLL_INTERVAL = 5.0  # seconds between relay rounds when nothing wakes it
BATCH = 50  # entries per relay round

#: the database is unreachable for now (not a bug in the entry): park and retry
TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,  # shutdown, restart, terminated backend
    asyncpg.exceptions.TooManyConnectionsError,
    # 55000: "database is not currently accepting connections"
    asyncpg.exceptions.ObjectNotInPrerequisiteStateError,
    # a connection the server dropped while idle can confuse asyncpg's protocol state
    asyncpg.exceptions.InternalClientError,
)

Clock = Callable[[], datetime]


def retry_delay(attempts: int) -> float:
    """Seconds to wait after ``attempts`` failed deliveries (1, 2, 4, ... up to 300)."""
    return min(RETRY_BASE * 2 ** max(attempts - 1, 0), RETRY_MAX)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Outbox:
    """The ``crm_outbox`` table and the relay that empties it into ``sink``."""

    def __init__(self, pool: Any, sink: InteractionSink, *, clock: Clock = _utc_now) -> None:
        self._pool = pool
        self._sink = sink
        self._clock = clock
        self._parked: list[Interaction] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def parked(self) -> int:
        """Interactions waiting in memory for the database to come back."""
        return len(self._parked)

    async def put(self, interaction: Interaction) -> None:
        """Queue ``interaction`` durably and try to deliver it now; never fails on an outage."""
        try:
            await self._enqueue(interaction)
        except TRANSIENT as exc:
            log.warning(
                "CRM outbox: database unavailable (%s); keeping %s in memory",
                exc,
                interaction.idempotency_key,
            )
            self._parked.append(interaction)
            self._wake.set()
            return
        try:
            await self._deliver_next(self._clock(), key=interaction.idempotency_key)
        except TRANSIENT as exc:
            log.warning(
                "CRM outbox: delivery of %s deferred (%s)", interaction.idempotency_key, exc
            )
            self._wake.set()

    async def flush(self, now: datetime | None = None) -> int:
        """Queue what is parked, then deliver every entry due at ``now``; returns how many.

        Raises the transient error when the database is still away.
        """
        await self._enqueue_parked()
        return await self.deliver_due(self._clock() if now is None else now)

    async def deliver_due(self, now: datetime, limit: int = BATCH) -> int:
        """Deliver up to ``limit`` entries whose retry time has come; returns how many."""
        delivered = 0
        for _ in range(limit):
            outcome = await self._deliver_next(now)
            if outcome is None:
                break
            delivered += outcome
        return delivered

    async def pending(self) -> int:
        """Entries not delivered yet (in the table and parked in memory)."""
        count: int = await self._pool.fetchval(
            "SELECT count(*) FROM crm_outbox WHERE delivered_at IS NULL"
        )
        return count + len(self._parked)

    # -- relay ----------------------------------------------------------------------------

    def start(self) -> None:
        """Run the relay in the background until `stop`."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="crm-outbox")

    async def stop(self) -> None:
        """Stop the relay; entries not delivered stay for the next process."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.flush()
            except TRANSIENT as exc:
                log.warning("CRM outbox relay: database unavailable (%s)", exc)
            except Exception:  # a sink bug must not end the relay
                log.exception("CRM outbox relay round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._wait_seconds())

    def _wait_seconds(self) -> float:
        return RETRY_BASE if self._parked else POLL_INTERVAL

    # -- one entry ------------------------------------------------------------------------

    async def _enqueue(self, interaction: Interaction) -> None:
        await self._pool.execute(
            "INSERT INTO crm_outbox (key, payload) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            interaction.idempotency_key,
            interaction.to_json(),
        )

    async def _enqueue_parked(self) -> None:
        while self._parked:
            await self._enqueue(self._parked[0])
            self._parked.pop(0)

    async def _deliver_next(self, now: datetime, *, key: str | None = None) -> int | None:
        """Deliver one entry (due at ``now``, or the one with ``key``).

        Returns 1 when delivered, 0 when the sink failed (retry scheduled), None when
        there was nothing to deliver.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            row = await _claim(conn, now, key)
            if row is None:
                return None
            try:
                async with conn.transaction():  # a savepoint: a failed sink keeps the claim
                    await self._sink.deliver(Interaction.from_json(row["payload"]), conn)
            except TRANSIENT:
                raise
            except Exception as exc:
                await _schedule_retry(conn, row, now, exc)
                return 0
            await conn.execute(
                "UPDATE crm_outbox SET delivered_at = $2, attempts = attempts + 1,"
                " last_error = NULL WHERE id = $1",
                row["id"],
                now,
            )
            return 1


async def _claim(conn: Any, now: datetime, key: str | None) -> Any:
    if key is not None:
        return await conn.fetchrow(
            "SELECT id, key, payload, attempts FROM crm_outbox"
            " WHERE key = $1 AND delivered_at IS NULL FOR UPDATE SKIP LOCKED",
            key,
        )
    return await conn.fetchrow(
        "SELECT id, key, payload, attempts FROM crm_outbox"
        " WHERE delivered_at IS NULL AND next_attempt_at <= $1"
        " ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED",
        now,
    )


async def _schedule_retry(conn: Any, row: Any, now: datetime, exc: Exception) -> None:
    attempts = row["attempts"] + 1
    log.warning("CRM write-back of %s failed (attempt %d): %s", row["key"], attempts, exc)
    await conn.execute(
        "UPDATE crm_outbox SET attempts = $2, next_attempt_at = $3, last_error = $4 WHERE id = $1",
        row["id"],
        attempts,
        now + timedelta(seconds=retry_delay(attempts)),
        f"{type(exc).__name__}: {exc}"[:500],
    )
