"""SQL migrations on a real PostgreSQL: once, idempotent, concurrent-safe, tamper-evident."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from hotline.store import MigrationError, apply_migrations, create_pool
from hotline.store.migrations import Migration, load_migrations

TABLES = {"calls", "registrations", "sip_users", "users", "schema_migrations"}


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[Any]:
    connection = await asyncpg.connect(database_url)
    try:
        yield connection
    finally:
        await connection.close()


async def tables(conn: Any) -> set[str]:
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {row["tablename"] for row in rows}


def test_package_migrations_are_ordered_from_0001() -> None:
    migrations = load_migrations()
    assert migrations[0].filename == "0001_initial.sql"
    versions = [m.version for m in migrations]
    assert versions == sorted(set(versions))


async def test_applies_once_and_is_idempotent(conn: Any) -> None:
    first = await apply_migrations(conn)
    assert [m.filename for m in first] == [m.filename for m in load_migrations()]
    assert await tables(conn) >= TABLES
    assert await apply_migrations(conn) == []
    rows = await conn.fetch("SELECT version, name, applied_at FROM schema_migrations")
    assert [(r["version"], r["name"]) for r in rows] == [(m.version, m.name) for m in first]
    assert all(r["applied_at"] is not None for r in rows)


async def test_concurrent_start_ups_apply_once(database_url: str) -> None:
    pools = [await create_pool(database_url) for _ in range(3)]
    try:

        async def migrate(pool: Any) -> list[Migration]:
            async with pool.acquire() as conn:
                return await apply_migrations(conn)

        results = await asyncio.gather(*(migrate(pool) for pool in pools))
        count = await pools[0].fetchval("SELECT count(*) FROM schema_migrations")
    finally:
        await asyncio.gather(*(pool.close() for pool in pools))
    applied = [result for result in results if result]
    assert len(applied) == 1, results
    assert count == len(load_migrations())


async def test_changed_file_is_refused(conn: Any) -> None:
    await apply_migrations(conn)
    original = load_migrations()[0]
    edited = Migration(original.version, original.name, original.sql + "\n-- edited\n")
    with pytest.raises(MigrationError, match=r"0001_initial\.sql was changed after it was applied"):
        await apply_migrations(conn, [edited])


async def test_unknown_applied_version_is_refused(conn: Any) -> None:
    newer = Migration(9999, "from_the_future", "CREATE TABLE future (id int);")
    await apply_migrations(conn, [*load_migrations(), newer])
    with pytest.raises(MigrationError, match=r"9999_from_the_future .* newer than the code"):
        await apply_migrations(conn)


async def test_failing_migration_rolls_back_everything(conn: Any) -> None:
    shipped = load_migrations()
    broken = Migration(
        shipped[-1].version + 1, "broken", "CREATE TABLE ok_table (id int); SELECT no_such_column;"
    )
    with pytest.raises(
        MigrationError, match=re.escape(broken.filename) + " failed: .*no_such_column"
    ):
        await apply_migrations(conn, [*shipped, broken])
    assert await tables(conn) == set()


def test_duplicate_versions_are_refused() -> None:
    with pytest.raises(MigrationError, match="share version 7"):
        asyncio.run(apply_migrations(None, [Migration(7, "a", ""), Migration(7, "b", "")]))
