"""Write-behind call records: the SIP pump never waits for the database.

Every call produces a handful of writes (started, answered, events, ended).
Awaiting each would put a database round trip on the signalling path; writing
them one by one from a queue costs ~5 round trips per call.  :class:`CallLog`
queues them and one writer task applies whatever has piled up as a batch:
one transaction of five set-based statements, however many calls it holds.

Nothing is lost: when the database is unreachable the batch is kept and
retried with back-off, and writes keep queuing (in memory) until it is back.
A batch the database refuses for its content (a bug, not an outage) is
retried call by call so one bad record cannot hold back the others.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

log = logging.getLogger(__name__)

#: Errors that mean "the database is not there right now": keep the batch, retry.
OUTAGE_ERRORS = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.InternalClientError,  # what a pooled connection killed mid-query may raise
)
MAX_BATCH = 2000
MAX_BACKOFF = 5.0


@dataclass(eq=False)
class CallHandle:
    """One call's record; ``id`` is known once its first batch was written."""

    call_id: str
    from_uri: str
    to_uri: str
    from_display: str | None
    started_at: datetime
    node: str | None
    id: int | None = None


@dataclass
class _Batch:
    """The pending writes of one round, grouped per kind, in arrival order."""

    starts: list[CallHandle] = field(default_factory=list)
    answered: dict[CallHandle, datetime] = field(default_factory=dict)
    events: dict[CallHandle, list[dict[str, Any]]] = field(default_factory=dict)
    ended: dict[CallHandle, tuple[datetime, str]] = field(default_factory=dict)
    quality: dict[CallHandle, dict[str, Any]] = field(default_factory=dict)

    def __len__(self) -> int:
        return sum(map(len, (self.starts, self.answered, self.events, self.ended, self.quality)))

    def calls(self) -> list[CallHandle]:
        seen = dict.fromkeys(
            [*self.starts, *self.answered, *self.events, *self.ended, *self.quality]
        )
        return list(seen)

    def only(self, handle: CallHandle) -> _Batch:
        """The part of this batch that concerns one call."""
        part = _Batch()
        part.starts = [h for h in self.starts if h is handle]
        for name in ("answered", "events", "ended", "quality"):
            source = getattr(self, name)
            if handle in source:
                getattr(part, name)[handle] = source[handle]
        return part


class CallLog:
    """Queue call-record writes without blocking; ``run()`` applies them in batches."""

    def __init__(self, pool: Any, node: str | None = None) -> None:
        self._pool = pool
        self._node = node
        self._pending = _Batch()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._xid: int | None = None  # transaction whose outcome a lost connection hid
        self._reserved_in_doubt: list[CallHandle] = []
        self.batches_written = 0

    # -- the non-blocking side (called from the SIP pump) --------------------------

    def start(
        self,
        call_id: str,
        from_uri: str,
        to_uri: str,
        from_display: str | None,
        started_at: datetime,
    ) -> CallHandle:
        handle = CallHandle(call_id, from_uri, to_uri, from_display, started_at, self._node)
        self._pending.starts.append(handle)
        self._kick()
        return handle

    def answered(self, handle: CallHandle, at: datetime) -> None:
        self._pending.answered[handle] = at
        self._kick()

    def event(self, handle: CallHandle, event: Mapping[str, Any]) -> None:
        """Append an event; it is stamped ``t`` now unless it carries its own time."""
        entry = {"t": datetime.now(UTC).isoformat(), **event}
        self._pending.events.setdefault(handle, []).append(entry)
        self._kick()

    def quality(self, handle: CallHandle, figures: Mapping[str, Any]) -> None:
        """Merge media quality figures (packets, loss, jitter, MOS) into the record."""
        self._pending.quality.setdefault(handle, {}).update(figures)
        self._kick()

    def ended(self, handle: CallHandle, at: datetime, reason: str) -> None:
        self._pending.ended[handle] = (at, reason)
        self._kick()

    @property
    def backlog(self) -> int:
        return len(self._pending)

    def _kick(self) -> None:
        self._idle.clear()
        self._wakeup.set()

    # -- the writer task ----------------------------------------------------------

    async def run(self) -> None:
        """Apply batches until cancelled (``drain()`` first so nothing is left)."""
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            batch, self._pending = self._pending, _Batch()
            backoff = 0.1
            while len(batch):
                try:
                    await self._write(batch)
                    break
                except OUTAGE_ERRORS as exc:
                    log.warning("call records: database unavailable (%s); retrying", exc)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF)
            if not len(self._pending):
                self._idle.set()

    async def drain(self) -> None:
        """Wait until every queued write is in the database."""
        self._wakeup.set()
        await self._idle.wait()

    async def _write(self, batch: _Batch) -> None:
        try:
            await self._apply_once(batch)
        except OUTAGE_ERRORS:
            raise
        except Exception:
            log.exception("call records: batch refused; writing call by call")
            for handle in batch.calls():
                try:
                    await self._apply_once(batch.only(handle))
                except OUTAGE_ERRORS:
                    raise
                except Exception:
                    log.exception("call records: dropped the writes of call %s", handle.call_id)
        self.batches_written += 1

    async def _apply_once(self, batch: _Batch) -> None:
        """Apply ``batch`` exactly once, even if a lost connection hid the last outcome.

        A connection can die after COMMIT but before we hear of it.  We note the
        transaction id first and, before retrying, ask PostgreSQL what became of
        it (``txid_status``): committed means done, so nothing is written twice.
        """
        if self._xid is not None:
            status = await self._pool.fetchval("SELECT txid_status($1)", self._xid)
            if status == "in progress":
                raise TimeoutError("the previous batch is still committing")
            self._xid = None
            in_doubt, self._reserved_in_doubt = self._reserved_in_doubt, []
            if status == "committed":
                return
            for handle in in_doubt:  # rolled back after all: insert them again
                handle.id = None
        reserved = [h for h in batch.starts if h.id is None]
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                self._xid = await conn.fetchval("SELECT txid_current()")
                await self._statements(conn, batch, reserved)
        except OUTAGE_ERRORS:
            if self._xid is None:  # lost before the transaction began: nothing committed
                for handle in reserved:
                    handle.id = None
            else:
                self._reserved_in_doubt = reserved
            raise
        except BaseException:
            self._xid = None
            for handle in reserved:  # rolled back: their ids are void
                handle.id = None
            raise
        self._xid = None

    async def _statements(self, conn: Any, batch: _Batch, reserved: list[CallHandle]) -> None:
        if reserved:
            await self._insert(conn, reserved)
        for statement, values, spread in (
            (_ANSWERED, batch.answered, lambda at: (at,)),
            (_EVENTS, batch.events, lambda entries: (_json(entries),)),
            (_QUALITY, batch.quality, lambda figures: (_json(figures),)),
            (_ENDED, batch.ended, lambda at_reason: at_reason),
        ):
            columns = _columns(values, spread)
            if columns:
                await conn.execute(statement, *columns)

    async def _insert(self, conn: Any, new: list[CallHandle]) -> None:
        ids = [r[0] for r in await conn.fetch(_RESERVE_IDS, len(new))]
        for handle, record_id in zip(new, ids, strict=True):
            handle.id = record_id
        rows = [
            (h.id, h.call_id, h.from_uri, h.to_uri, h.from_display, h.started_at, h.node)
            for h in new
        ]
        await conn.execute(_INSERT, *[list(column) for column in zip(*rows, strict=True)])


def _columns(values: Mapping[CallHandle, Any], spread: Any) -> list[list[Any]] | None:
    """Column arrays for ``unnest``: ids, then the spread value of each call; None if empty."""
    rows = [(h.id, *spread(v)) for h, v in values.items() if h.id is not None]
    return [list(column) for column in zip(*rows, strict=True)] if rows else None


def _json(value: Any) -> str:
    """JSON text; a nested list would be taken by asyncpg as a 2-D array, not a jsonb value."""
    return json.dumps(value, separators=(",", ":"), default=str)


_RESERVE_IDS = "SELECT nextval(pg_get_serial_sequence('calls', 'id')) FROM generate_series(1, $1)"
_INSERT = """
INSERT INTO calls (id, call_id, from_uri, to_uri, from_display, started_at, node)
OVERRIDING SYSTEM VALUE
SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],
                     $6::timestamptz[], $7::text[])
"""
_ANSWERED = """
UPDATE calls SET state = 'answered', answered_at = v.at
FROM unnest($1::bigint[], $2::timestamptz[]) AS v(id, at)
WHERE calls.id = v.id AND calls.state <> 'ended'
"""
_EVENTS = """
UPDATE calls SET events = calls.events || v.entries::jsonb
FROM unnest($1::bigint[], $2::text[]) AS v(id, entries)
WHERE calls.id = v.id
"""
_QUALITY = """
UPDATE calls SET quality = calls.quality || v.figures::jsonb
FROM unnest($1::bigint[], $2::text[]) AS v(id, figures)
WHERE calls.id = v.id
"""
_ENDED = """
UPDATE calls SET state = 'ended', ended_at = v.at, end_reason = v.reason
FROM unnest($1::bigint[], $2::timestamptz[], $3::text[]) AS v(id, at, reason)
WHERE calls.id = v.id AND calls.state <> 'ended'
"""
