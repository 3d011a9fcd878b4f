"""The ACD's rows (migration 0005): queues, agents and their history, waiting calls, reservations.

Reservations are the point where several server processes meet.  `reserve` locks the agent's
row (still ``available``) and the waiting call's row (still ``waiting``) with
``FOR UPDATE SKIP LOCKED``: a row another process holds is skipped, never waited for, so the
loser learns at once that it lost and routes again, and one call is never offered twice nor
one agent given two calls.  Partial unique indexes on the open reservations back this up.

Every agent change is announced with ``pg_notify('hotline_routing', '<node> <username>')`` so
the other processes refresh their in-memory mirror of that agent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from routing.model import AgentState, QueueConfig, Waiting

CHANNEL = "hotline_routing"

_QUEUE_COLUMNS = (
    "name", "skills", "strategy", "ring_timeout", "wrap_up", "overflow_after", "overflow_queue",
    "overflow_skills", "max_wait", "max_wait_action", "sl_seconds", "announce_every", "language",
)  # fmt: skip


def ts(seconds: float) -> datetime:
    """UNIX seconds as an aware datetime (what timestamptz columns take)."""
    return datetime.fromtimestamp(seconds, UTC)


def unix(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


@dataclass(frozen=True, slots=True)
class AgentRow:
    """An agent's profile and current state as stored."""

    username: str
    skills: dict[str, int]
    languages: tuple[str, ...]
    state: AgentState
    reason: str | None
    since: float
    node: str | None
    call_id: str | None


class RoutingStore:
    """The routing tables over the asyncpg pool (see the module docstring)."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    # -- queues and agent profiles ---------------------------------------------------------

    async def save_queue(self, config: QueueConfig) -> None:
        values = [getattr(config, c) for c in _QUEUE_COLUMNS]
        params = ", ".join(f"${i}" for i in range(1, len(values) + 1))
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _QUEUE_COLUMNS[1:])
        await self.pool.execute(
            f"INSERT INTO routing_queues ({', '.join(_QUEUE_COLUMNS)}) VALUES ({params})"
            f" ON CONFLICT (name) DO UPDATE SET {updates}",
            *values,
        )

    async def queues(self) -> list[QueueConfig]:
        rows = await self.pool.fetch(
            f"SELECT {', '.join(_QUEUE_COLUMNS)} FROM routing_queues ORDER BY name"
        )
        return [QueueConfig(**dict(row)) for row in rows]

    async def save_agent(
        self, username: str, skills: dict[str, int], languages: list[str] | tuple[str, ...]
    ) -> None:
        """Create or update an agent's skills and languages (the account must exist)."""
        for skill, level in skills.items():
            if not 1 <= level <= 5:
                raise ValueError(f"skill {skill!r} level {level} is not within 1-5")
        await self.pool.execute(
            "INSERT INTO routing_agents (username, skills, languages) VALUES ($1, $2, $3)"
            " ON CONFLICT (username) DO UPDATE SET skills = EXCLUDED.skills,"
            " languages = EXCLUDED.languages",
            username,
            skills,
            list(languages),
        )

    async def agent(self, username: str) -> AgentRow | None:
        row = await self.pool.fetchrow(
            "SELECT username, skills, languages, state, reason, since, node, call_id"
            " FROM routing_agents WHERE username = $1",
            username,
        )
        return None if row is None else _agent_row(row)

    async def agents(self, usernames: list[str]) -> list[AgentRow]:
        rows = await self.pool.fetch(
            "SELECT username, skills, languages, state, reason, since, node, call_id"
            " FROM routing_agents WHERE username = ANY($1::text[])",
            usernames,
        )
        return [_agent_row(row) for row in rows]

    async def record_state(
        self,
        username: str,
        state: AgentState,
        reason: str | None,
        at: float,
        node: str,
        *,
        call_id: str | None = None,
        wrap_up_until: float | None = None,
    ) -> None:
        """Store an agent's new state and its history row, and tell the other processes."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "UPDATE routing_agents SET state = $2, reason = $3, since = $4, node = $5,"
                " call_id = $6, wrap_up_until = $7 WHERE username = $1",
                username, str(state), reason, ts(at), node, call_id,
                None if wrap_up_until is None else ts(wrap_up_until),
            )  # fmt: skip
            await _history(conn, username, state, reason, at, node, call_id)

    async def history(self, username: str) -> list[tuple[str, str | None, float]]:
        """(state, reason, at) of every change, oldest first."""
        rows = await self.pool.fetch(
            "SELECT state, reason, at FROM routing_agent_states WHERE username = $1 ORDER BY id",
            username,
        )
        return [(r["state"], r["reason"], r["at"].timestamp()) for r in rows]

    # -- waiting calls ---------------------------------------------------------------------

    async def add_waiting(self, entry: Waiting, node: str) -> int:
        """Store a caller in line; returns its place (``seq``)."""
        seq: int = await self.pool.fetchval(
            "INSERT INTO routing_waiting (call_id, queue, skills, request_skills, language,"
            " priority, kind, target_agent, caller, context, enqueued_at, queued_at, node)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
            " ON CONFLICT (call_id) DO UPDATE SET queue = EXCLUDED.queue,"
            " skills = EXCLUDED.skills, state = 'waiting', queued_at = EXCLUDED.queued_at"
            " RETURNING seq",
            entry.call_id, entry.queue, entry.skills, entry.request_skills, entry.language,
            entry.priority, entry.kind, entry.target_agent, entry.caller, entry.context,
            ts(entry.enqueued_at), ts(entry.queued_at), node,
        )  # fmt: skip
        return seq

    async def update_waiting(self, entry: Waiting, *, state: str = "waiting") -> None:
        """The caller moved (overflow), became a callback, or is back in line."""
        await self.pool.execute(
            "UPDATE routing_waiting SET queue = $2, skills = $3, kind = $4, state = $5,"
            " queued_at = $6 WHERE call_id = $1",
            entry.call_id, entry.queue, entry.skills, entry.kind, state, ts(entry.queued_at),
        )  # fmt: skip

    async def has_waiting(self, call_id: str) -> bool:
        found = await self.pool.fetchval(
            "SELECT 1 FROM routing_waiting WHERE call_id = $1", call_id
        )
        return found is not None

    async def remove_waiting(self, call_id: str) -> None:
        await self.pool.execute("DELETE FROM routing_waiting WHERE call_id = $1", call_id)

    async def waiting(self, node: str | None = None) -> list[dict[str, Any]]:
        """The callers in line (of ``node``), in line order."""
        rows = await self.pool.fetch(
            "SELECT * FROM routing_waiting WHERE $1::text IS NULL OR node = $1 ORDER BY seq",
            node,
        )
        return [dict(row) for row in rows]

    # -- reservations ----------------------------------------------------------------------

    async def reserve(
        self, offer_id: str, call_id: str, username: str, queue: str, node: str,
        now: float, expires_at: float,
    ) -> bool:  # fmt: skip
        """Take the agent and the call for one offer, or return False if either is gone.

        Lock order is agent then call in every process; SKIP LOCKED never waits, so two
        processes can neither deadlock nor both succeed.
        """
        async with self.pool.acquire() as conn, conn.transaction():
            agent = await conn.fetchval(
                "SELECT username FROM routing_agents WHERE username = $1"
                " AND state = 'available' FOR UPDATE SKIP LOCKED",
                username,
            )
            if agent is None:
                return False
            call = await conn.fetchval(
                "SELECT call_id FROM routing_waiting WHERE call_id = $1"
                " AND state = 'waiting' FOR UPDATE SKIP LOCKED",
                call_id,
            )
            if call is None:
                return False
            await conn.execute(
                "UPDATE routing_agents SET state = 'reserved', reason = NULL, since = $2,"
                " node = $3, call_id = $4, wrap_up_until = NULL WHERE username = $1",
                username, ts(now), node, call_id,
            )  # fmt: skip
            await conn.execute(
                "UPDATE routing_waiting SET state = 'offered' WHERE call_id = $1", call_id
            )
            await conn.execute(
                "INSERT INTO routing_reservations (offer_id, call_id, username, queue, node,"
                " created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                offer_id, call_id, username, queue, node, ts(now), ts(expires_at),
            )  # fmt: skip
            await _history(conn, username, AgentState.RESERVED, None, now, node, call_id)
            return True

    async def end_reservation(self, offer_id: str, outcome: str, at: float) -> None:
        await self.pool.execute(
            "UPDATE routing_reservations SET ended_at = $3, outcome = $2"
            " WHERE offer_id = $1 AND ended_at IS NULL",
            offer_id,
            outcome,
            ts(at),
        )

    async def reservations(self) -> list[dict[str, Any]]:
        """Every reservation, oldest first (tests and reports)."""
        rows = await self.pool.fetch("SELECT * FROM routing_reservations ORDER BY created_at")
        return [dict(row) for row in rows]

    async def expire_stale(self, now: float, slack: float) -> list[str]:
        """End reservations ``slack`` s past their expiry (their process died mid-ring).

        The agent goes not ready (``expired``) if that offer still holds them; the call row
        goes back to waiting.  Returns the agents released.
        """
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "UPDATE routing_reservations SET ended_at = $1, outcome = 'expired'"
                " WHERE ended_at IS NULL AND expires_at < $2 RETURNING username, call_id",
                ts(now), ts(now - slack),
            )  # fmt: skip
            released = []
            for row in rows:
                await conn.execute(
                    "UPDATE routing_waiting SET state = 'waiting' WHERE call_id = $1",
                    row["call_id"],
                )
                status = await conn.execute(
                    "UPDATE routing_agents SET state = 'not_ready', reason = 'expired',"
                    " since = $3, call_id = NULL WHERE username = $1 AND state = 'reserved'"
                    " AND call_id = $2",
                    row["username"], row["call_id"], ts(now),
                )  # fmt: skip
                if status == "UPDATE 1":
                    released.append(row["username"])
                    await _history(
                        conn, row["username"], AgentState.NOT_READY, "expired", now, None, None
                    )
            return released

    async def heartbeat(self, node: str, now: float) -> None:
        await self.pool.execute(
            "INSERT INTO routing_nodes (node, seen_at) VALUES ($1, $2)"
            " ON CONFLICT (node) DO UPDATE SET seen_at = EXCLUDED.seen_at",
            node,
            ts(now),
        )

    async def release_lost_nodes(self, now: float, silent_for: float) -> list[str]:
        """Agents held (ringing, on a call, wrapping up) by a process silent for ``silent_for``
        seconds go not ready; its live callers' rows go.  Returns the agents released."""
        async with self.pool.acquire() as conn, conn.transaction():
            lost = [
                r["node"]
                for r in await conn.fetch(
                    "DELETE FROM routing_nodes WHERE seen_at < $1 RETURNING node",
                    ts(now - silent_for),
                )
            ]
            if not lost:
                return []
            await conn.execute(
                "DELETE FROM routing_waiting WHERE node = ANY($1::text[]) AND kind = 'live'", lost
            )
            await conn.execute(
                "UPDATE routing_reservations SET ended_at = $2, outcome = 'expired'"
                " WHERE node = ANY($1::text[]) AND ended_at IS NULL",
                lost,
                ts(now),
            )
            rows = await conn.fetch(
                "UPDATE routing_agents SET state = 'not_ready', reason = 'node_lost', since = $2,"
                " call_id = NULL WHERE node = ANY($1::text[])"
                " AND state IN ('reserved', 'on_call', 'wrap_up') RETURNING username",
                lost,
                ts(now),
            )
            for row in rows:
                await _history(conn, row["username"], AgentState.NOT_READY, "node_lost", now,
                               None, None)  # fmt: skip
            return [row["username"] for row in rows]

    async def forget_node(self, node: str, now: float) -> None:
        """A restarted process drops what its previous life left: live callers are gone,
        its agents' calls and offers too (callbacks keep their place)."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "DELETE FROM routing_waiting WHERE node = $1 AND kind = 'live'", node
            )
            await conn.execute("UPDATE routing_waiting SET state = 'waiting' WHERE node = $1", node)
            await conn.execute(
                "UPDATE routing_reservations SET ended_at = $2, outcome = 'expired'"
                " WHERE node = $1 AND ended_at IS NULL",
                node, ts(now),
            )  # fmt: skip
            await conn.execute(
                "UPDATE routing_agents SET state = 'offline', reason = 'restart', since = $2,"
                " call_id = NULL WHERE node = $1 AND state <> 'offline'",
                node, ts(now),
            )  # fmt: skip

    # -- wrap-up ---------------------------------------------------------------------------

    async def save_wrap_up(
        self, call_id: str | None, username: str, queue: str | None, disposition: str,
        notes: str, resolved: bool, at: float,
    ) -> None:  # fmt: skip
        await self.pool.execute(
            "INSERT INTO routing_wrap_ups (call_id, username, queue, disposition, notes,"
            " resolved, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            call_id, username, queue, disposition, notes, resolved, ts(at),
        )  # fmt: skip


async def _history(
    conn: Any, username: str, state: AgentState, reason: str | None, at: float,
    node: str | None, call_id: str | None,
) -> None:  # fmt: skip
    await conn.execute(
        "INSERT INTO routing_agent_states (username, state, reason, at, call_id, node)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        username, str(state), reason, ts(at), call_id, node,
    )  # fmt: skip
    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, f"{node or '-'} {username}")


def _agent_row(row: Any) -> AgentRow:
    return AgentRow(
        row["username"], dict(row["skills"]), tuple(row["languages"]),
        AgentState(row["state"]), row["reason"], row["since"].timestamp(), row["node"],
        row["call_id"],
    )  # fmt: skip
