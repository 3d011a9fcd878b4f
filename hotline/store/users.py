"""Web/API accounts (agents, supervisors, admins) with scrypt password hashes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from hotline.store.passwords import hash_password, verify_password

ROLES = ("agent", "supervisor", "admin")

# A well-formed hash no password matches (salt and key of zeros, standard cost).
_UNKNOWN_USER_HASH = "scrypt$16384$8$1$" + "A" * 22 + "==$" + "A" * 43 + "="


@dataclass(frozen=True, slots=True)
class User:
    """A web/API account (without its password hash)."""

    username: str
    role: str


class UserStore:
    """The ``users`` table. Hashing runs in a worker thread: scrypt is slow on purpose."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    async def add_user(
        self, username: str, password: str, role: str, *, replace: bool = True
    ) -> bool:
        """Create the account, or replace its password and role when ``replace``.

        Returns False when the account already existed and ``replace`` is False.
        """
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        password_hash = await asyncio.to_thread(hash_password, password)
        conflict = (
            "DO UPDATE SET password_hash = EXCLUDED.password_hash, role = EXCLUDED.role"
            if replace
            else "DO NOTHING"
        )
        status: str = await self._pool.execute(
            "INSERT INTO users (username, password_hash, role) VALUES ($1, $2, $3)"
            f" ON CONFLICT (username) {conflict}",
            username,
            password_hash,
            role,
        )
        return status == "INSERT 0 1"

    async def get(self, username: str) -> User | None:
        """The account, or None."""
        row = await self._pool.fetchrow(
            "SELECT username, role FROM users WHERE username = $1", username
        )
        return None if row is None else User(row["username"], row["role"])

    async def authenticate(self, username: str, password: str) -> User | None:
        """The account if ``password`` is right, else None (unknown user or wrong password)."""
        row = await self._pool.fetchrow(
            "SELECT username, role, password_hash FROM users WHERE username = $1", username
        )
        # Unknown users cost one hash too, so response time does not reveal who exists.
        stored = _UNKNOWN_USER_HASH if row is None else row["password_hash"]
        ok = await asyncio.to_thread(verify_password, password, stored)
        return User(row["username"], row["role"]) if ok and row is not None else None
