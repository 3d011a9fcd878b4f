"""Bearer tokens of the web/API accounts: issued at login, checked on every API request.

A token is 32 random bytes (``secrets.token_urlsafe``), handed to the client once. The
``api_tokens`` table keeps only its SHA-256, so reading the table or a backup grants nothing,
and every process sharing the database accepts tokens any of them issued. Times are supplied
by the caller (``now``), like the rest of the store.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

TOKEN_LIFETIME = timedelta(hours=12)
TOKEN_BYTES = 32
# token_urlsafe(32) is 43 characters; anything much longer is not one of ours.
MAX_TOKEN_LENGTH = 128


def token_hash(token: str) -> str:
    """The stored form of ``token``: SHA-256, lower-case hex."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token: ``token`` is shown to the client once and never stored."""

    token: str
    username: str
    role: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What a presented token stands for. ``role`` is the account's current role."""

    token_hash: str
    username: str
    role: str
    expires_at: datetime

    def expired(self, now: datetime) -> bool:
        """True once ``now`` reaches the expiry time."""
        return now >= self.expires_at


class TokenStore:
    """The ``api_tokens`` table."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    async def issue(
        self, username: str, role: str, now: datetime, lifetime: timedelta = TOKEN_LIFETIME
    ) -> IssuedToken:
        """Create a token for the (existing) account ``username``, valid from ``now``.

        Expired tokens of every account are deleted on the way, so the table stays small
        without a background sweep.
        """
        token = secrets.token_urlsafe(TOKEN_BYTES)
        expires_at = now + lifetime
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM api_tokens WHERE expires_at <= $1", now)
            await conn.execute(
                "INSERT INTO api_tokens (token_hash, username, created_at, expires_at)"
                " VALUES ($1, $2, $3, $4)",
                token_hash(token),
                username,
                now,
                expires_at,
            )
        return IssuedToken(token, username, role, expires_at)

    async def lookup(self, token: str) -> TokenInfo | None:
        """The token's account and expiry, or None if it was never issued or was revoked.

        Expired tokens are returned too (check `TokenInfo.expired`), so callers can say why
        a token is refused.
        """
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        row = await self._pool.fetchrow(
            "SELECT t.token_hash, t.username, u.role, t.expires_at"
            " FROM api_tokens t JOIN users u ON u.username = t.username"
            " WHERE t.token_hash = $1",
            token_hash(token),
        )
        return None if row is None else TokenInfo(**dict(row))

    async def revoke(self, token_hash: str) -> bool:
        """Delete the token with this hash; False if there was none."""
        status: str = await self._pool.execute(
            "DELETE FROM api_tokens WHERE token_hash = $1", token_hash
        )
        return status == "DELETE 1"
