"""Opening and closing the store: embedded server if needed, asyncpg pool, migrations."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import date, datetime
from typing import Any

import asyncpg

from hotline.config import Config
from hotline.store.calls import CallStore
from hotline.store.embedded import EmbeddedPostgres
from hotline.store.migrations import apply_migrations
from hotline.store.registrations import RegistrationStore
from hotline.store.sip_users import SipUserStore
from hotline.store.tokens import TokenStore
from hotline.store.users import UserStore

log = logging.getLogger(__name__)

POOL_MIN_SIZE = 1
POOL_MAX_SIZE = 10
CLOSE_TIMEOUT = 5.0


class Store:
    """The PostgreSQL store: the asyncpg ``pool`` plus one repository object per table group.

    Build it with `open_store`; `close` it at shutdown (it also stops the embedded server).
    """

    def __init__(self, pool: Any, embedded: EmbeddedPostgres | None = None) -> None:
        self.pool = pool
        self.embedded = embedded
        self.calls = CallStore(pool)
        self.registrations = RegistrationStore(pool)
        self.sip_users = SipUserStore(pool)
        self.users = UserStore(pool)
        self.tokens = TokenStore(pool)

    async def ping(self, timeout: float = 1.0) -> None:
        """Round-trip to the database; raises if it does not answer within ``timeout`` s."""
        async with asyncio.timeout(timeout):
            await self.pool.fetchval("SELECT 1")

    async def close(self) -> None:
        """Close the pool (waiting briefly for queries in flight), then stop the embedded server."""
        try:
            await asyncio.wait_for(self.pool.close(), CLOSE_TIMEOUT)
        except TimeoutError:
            log.warning("database connections still busy after %.0f s; terminating", CLOSE_TIMEOUT)
            self.pool.terminate()
        finally:
            if self.embedded is not None:
                await self.embedded.stop()


async def open_store(config: Config) -> Store:
    """Connect to ``config.database_url`` (or start the embedded PostgreSQL), migrate, return it."""
    embedded = None
    url = config.database_url
    if url is None:
        embedded = EmbeddedPostgres(config.data_dir.resolve() / "pg")
        url = await embedded.start()
    try:
        pool = await create_pool(url)
    except BaseException:
        if embedded is not None:
            await embedded.stop()
        raise
    store = Store(pool, embedded)
    try:
        async with pool.acquire() as conn:
            applied = await apply_migrations(conn)
    except BaseException:
        await store.close()
        raise
    for migration in applied:
        log.info("applied migration %s", migration.filename)
    return store


async def create_pool(url: str) -> Any:
    """An asyncpg pool on ``url`` whose connections read and write json/jsonb as Python values."""
    return await asyncpg.create_pool(
        url, min_size=POOL_MIN_SIZE, max_size=POOL_MAX_SIZE, init=_init_connection
    )


async def _init_connection(conn: Any) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, schema="pg_catalog", encoder=_json_dumps, decoder=json.loads
        )


def _json_dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default, separators=(",", ":"))


def _json_default(value: Any) -> Any:
    # Call events and quality stats naturally carry timestamps; store them as ISO 8601.
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
