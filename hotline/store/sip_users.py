"""SIP digest users (RFC 7616): the registrar and INVITE authentication look up HA1 here.

Only HA1 = H(username ":" realm ":" password) is stored, once per supported algorithm
(MD5 for older phones, SHA-256 for current ones), never the password itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

ALGORITHMS = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


def compute_ha1(algorithm: str, username: str, realm: str, password: str) -> str:
    """HA1 of RFC 7616 section 3.4.2 as lower-case hex; ``algorithm`` is MD5 or SHA-256."""
    try:
        digest = ALGORITHMS[algorithm.upper()]
    except KeyError:
        raise ValueError(f"unsupported digest algorithm {algorithm!r}") from None
    return digest(f"{username}:{realm}:{password}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SipUser:
    """A SIP account's digest credentials."""

    username: str
    realm: str
    ha1_md5: str
    ha1_sha256: str
    display_name: str | None = None

    def ha1(self, algorithm: str) -> str:
        """The stored HA1 for ``algorithm`` (MD5 or SHA-256; ``-sess`` variants share it)."""
        base = algorithm.upper().removesuffix("-SESS")
        if base == "MD5":
            return self.ha1_md5
        if base == "SHA-256":
            return self.ha1_sha256
        raise ValueError(f"unsupported digest algorithm {algorithm!r}")


class SipUserStore:
    """The ``sip_users`` table."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    async def get(self, username: str, realm: str) -> SipUser | None:
        """The user's HA1 values in ``realm``, or None if there is no such user there."""
        row = await self._pool.fetchrow(
            "SELECT username, realm, ha1_md5, ha1_sha256, display_name FROM sip_users"
            " WHERE username = $1 AND realm = $2",
            username,
            realm,
        )
        return None if row is None else SipUser(**dict(row))

    async def all(self) -> list[SipUser]:
        """Every SIP user, by username (for callers that cache HA1s for synchronous lookup)."""
        rows = await self._pool.fetch(
            "SELECT username, realm, ha1_md5, ha1_sha256, display_name FROM sip_users"
            " ORDER BY username"
        )
        return [SipUser(**dict(row)) for row in rows]

    async def add_user(
        self,
        username: str,
        realm: str,
        password: str,
        display_name: str | None = None,
        *,
        replace: bool = True,
    ) -> bool:
        """Create the user, or replace its credentials when ``replace``.

        Returns False when the user already existed and ``replace`` is False.
        """
        conflict = (
            "DO UPDATE SET realm = EXCLUDED.realm, ha1_md5 = EXCLUDED.ha1_md5,"
            " ha1_sha256 = EXCLUDED.ha1_sha256, display_name = EXCLUDED.display_name"
            if replace
            else "DO NOTHING"
        )
        status: str = await self._pool.execute(
            "INSERT INTO sip_users (username, realm, ha1_md5, ha1_sha256, display_name)"
            f" VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) {conflict}",
            username,
            realm,
            compute_ha1("MD5", username, realm, password),
            compute_ha1("SHA-256", username, realm, password),
            display_name,
        )
        return status == "INSERT 0 1"

    async def delete(self, username: str) -> bool:
        """Remove the user; False if there was none."""
        status: str = await self._pool.execute(
            "DELETE FROM sip_users WHERE username = $1", username
        )
        return status == "DELETE 1"
