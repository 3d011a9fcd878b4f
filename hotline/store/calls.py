"""Call records: one row per call, with its time-ordered event history in jsonb."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

_COLUMNS = (
    "id, call_id, from_uri, to_uri, from_display, direction, state, started_at, "
    "answered_at, ended_at, end_reason, quality, events, node"
)


@dataclass(frozen=True, slots=True)
class CallRecord:
    """A row of the ``calls`` table."""

    id: int
    call_id: str
    from_uri: str
    to_uri: str
    from_display: str | None
    direction: str
    state: str
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    quality: dict[str, Any]
    events: list[dict[str, Any]]
    node: str | None


class CallStore:
    """Reads and writes call records through an asyncpg pool.

    Times are timezone-aware datetimes supplied by the caller (the call's own clock), so
    records say when things happened on the call, not when the database got around to it.
    """

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    async def create(
        self,
        call_id: str,
        from_uri: str,
        to_uri: str,
        from_display: str | None,
        started_at: datetime,
        *,
        direction: str = "inbound",
        node: str | None = None,
    ) -> int:
        """Record a new ringing call; returns its id."""
        record_id: int = await self._pool.fetchval(
            "INSERT INTO calls"
            " (call_id, from_uri, to_uri, from_display, started_at, direction, node)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            call_id,
            from_uri,
            to_uri,
            from_display,
            started_at,
            direction,
            node,
        )
        return record_id

    async def mark_answered(self, id: int, at: datetime) -> None:
        """The call was answered at ``at``."""
        await self._pool.execute(
            "UPDATE calls SET state = 'answered', answered_at = $2"
            " WHERE id = $1 AND state <> 'ended'",
            id,
            at,
        )

    async def append_event(self, id: int, event: Mapping[str, Any]) -> None:
        """Append ``event`` to the call's history.

        ``event`` needs a ``type``; its time ``t`` (ISO 8601) defaults to now (UTC).
        The append happens inside PostgreSQL (jsonb ``||``), so concurrent writers never
        lose each other's events.
        """
        if "type" not in event:
            raise ValueError(f"call event needs a 'type': {dict(event)!r}")
        entry = {"t": datetime.now(UTC).isoformat(), **event}
        if isinstance(entry["t"], datetime):
            entry["t"] = entry["t"].isoformat()
        await self._pool.execute(
            "UPDATE calls SET events = events || jsonb_build_array($2::jsonb) WHERE id = $1",
            id,
            entry,
        )

    async def merge_quality(self, id: int, quality: Mapping[str, Any]) -> None:
        """Merge ``quality`` (RTP statistics such as loss, jitter, MOS) into the call's record."""
        await self._pool.execute(
            "UPDATE calls SET quality = quality || $2::jsonb WHERE id = $1", id, dict(quality)
        )

    async def end(self, id: int, at: datetime, reason: str) -> bool:
        """The call ended at ``at`` for ``reason``; False if it had already ended."""
        status: str = await self._pool.execute(
            "UPDATE calls SET state = 'ended', ended_at = $2, end_reason = $3"
            " WHERE id = $1 AND state <> 'ended'",
            id,
            at,
            reason,
        )
        return status == "UPDATE 1"

    async def get(self, id: int) -> CallRecord | None:
        """The call record with this id, or None."""
        row = await self._pool.fetchrow(f"SELECT {_COLUMNS} FROM calls WHERE id = $1", id)
        return None if row is None else CallRecord(**dict(row))

    async def recent(self, limit: int = 50, *, before_id: int | None = None) -> list[CallRecord]:
        """The latest ``limit`` calls, newest first (by ``started_at``, then ``id``).

        With ``before_id``, the page continues after that call: only calls older than it in
        the same order (keyset paging, stable while new calls arrive). Empty when no call
        has the id ``before_id``.
        """
        if before_id is None:
            rows = await self._pool.fetch(
                f"SELECT {_COLUMNS} FROM calls ORDER BY started_at DESC, id DESC LIMIT $1", limit
            )
        else:
            rows = await self._pool.fetch(
                f"SELECT {_COLUMNS} FROM calls WHERE (started_at, id) <"
                " (SELECT started_at, id FROM calls WHERE id = $2)"
                " ORDER BY started_at DESC, id DESC LIMIT $1",
                limit,
                before_id,
            )
        return [CallRecord(**dict(row)) for row in rows]
