"""Registrar bindings (RFC 3261 section 10.3) kept in PostgreSQL so every node sees them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

_COLUMNS = "aor, contact, expires_at, call_id, cseq, user_agent, received"

_UPSERT = (
    f"INSERT INTO registrations ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    " ON CONFLICT (aor, contact) DO UPDATE SET expires_at = EXCLUDED.expires_at,"
    " call_id = EXCLUDED.call_id, cseq = EXCLUDED.cseq,"
    " user_agent = EXCLUDED.user_agent, received = EXCLUDED.received"
)
_DELETE_ONE = "DELETE FROM registrations WHERE aor = $1 AND contact = $2"


@dataclass(frozen=True, slots=True)
class Binding:
    """One contact bound to an address-of-record until ``expires_at``."""

    aor: str
    contact: str
    expires_at: datetime
    call_id: str
    cseq: int
    user_agent: str | None = None
    received: str | None = None

    def values(self) -> tuple[Any, ...]:
        """The column values, in ``_COLUMNS`` order."""
        return (
            self.aor,
            self.contact,
            self.expires_at,
            self.call_id,
            self.cseq,
            self.user_agent,
            self.received,
        )


class RegistrationStore:
    """Upserts, lists and expires registrar bindings.

    Only storage: the registrar decides (Call-ID/CSeq ordering, expiry limits) and passes
    the current time in, so these queries never consult the database clock.
    """

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    async def upsert(self, binding: Binding) -> None:
        """Add the binding, or refresh it if this aor/contact pair is already bound."""
        await self._pool.execute(_UPSERT, *binding.values())

    async def save(self, upserts: Sequence[Binding], removals: Sequence[Binding]) -> None:
        """Apply one REGISTER's outcome atomically: delete ``removals``, write ``upserts``."""
        async with self._pool.acquire() as conn, conn.transaction():
            for binding in removals:
                await conn.execute(_DELETE_ONE, binding.aor, binding.contact)
            for binding in upserts:
                await conn.execute(_UPSERT, *binding.values())

    async def delete(self, aor: str, contact: str) -> bool:
        """Remove one binding; False if it did not exist."""
        status: str = await self._pool.execute(_DELETE_ONE, aor, contact)
        return status == "DELETE 1"

    async def delete_all(self, aor: str) -> int:
        """Remove every binding of ``aor`` (``Contact: *``); returns how many."""
        status: str = await self._pool.execute("DELETE FROM registrations WHERE aor = $1", aor)
        return _row_count(status)

    async def bindings(self, aor: str, now: datetime) -> list[Binding]:
        """The bindings of ``aor`` still valid at ``now``, latest expiry first."""
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM registrations WHERE aor = $1 AND expires_at > $2"
            " ORDER BY expires_at DESC, contact",
            aor,
            now,
        )
        return [Binding(**dict(row)) for row in rows]

    async def purge_expired(self, now: datetime) -> int:
        """Delete bindings expired at ``now``; returns how many."""
        status: str = await self._pool.execute(
            "DELETE FROM registrations WHERE expires_at <= $1", now
        )
        return _row_count(status)


def _row_count(status: str) -> int:
    # asyncpg returns the command tag, e.g. "DELETE 3".
    return int(status.rsplit(" ", 1)[-1])
