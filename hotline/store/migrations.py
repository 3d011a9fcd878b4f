"""Ordered SQL migrations, applied once per database at start-up.

Migrations are the package data files ``hotline/store/migrations/NNNN_name.sql``, applied in
version order. Each applied file is recorded in ``schema_migrations`` with a SHA-256 of its
text: editing a file after it was applied is refused (add a new migration instead).

Several Hotline processes may start at the same moment against one database. All the work
happens in one transaction that first takes a transaction-level advisory lock, so the others
wait, then see the versions already recorded and apply nothing.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import asyncpg

# Arbitrary but fixed: every Hotline process must take the same advisory lock.
# (The ASCII bytes of "hotline" read as one integer.)
MIGRATION_LOCK_KEY = 0x686F746C696E65

_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(RuntimeError):
    """The migration files or the database's migration history cannot be reconciled."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One SQL migration file."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """SHA-256 of the SQL text, hex."""
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def filename(self) -> str:
        """The file name this migration comes from, e.g. ``0001_initial.sql``."""
        return f"{self.version:04d}_{self.name}.sql"


def load_migrations() -> list[Migration]:
    """Read the migration files shipped in this package, ordered by version."""
    folder = resources.files(__package__).joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append(_parse_file(entry.name, entry.read_text(encoding="utf-8")))
    return _checked_order(found)


def _parse_file(filename: str, sql: str) -> Migration:
    match = _FILE_NAME.match(filename)
    if match is None:
        raise MigrationError(f"migration file {filename!r} is not named NNNN_lower_name.sql")
    return Migration(int(match["version"]), match["name"], sql)


def _checked_order(migrations: Sequence[Migration]) -> list[Migration]:
    ordered = sorted(migrations, key=lambda m: m.version)
    for before, after in itertools.pairwise(ordered):
        if before.version == after.version:
            raise MigrationError(
                f"two migrations share version {before.version}: "
                f"{before.filename} and {after.filename}"
            )
    return ordered


async def apply_migrations(
    conn: Any, migrations: Sequence[Migration] | None = None
) -> list[Migration]:
    """Apply the pending ``migrations`` (default: this package's files) on an asyncpg connection.

    Returns the migrations applied by this call (empty when the database was up to date).
    Safe to call concurrently from several processes. Raises `MigrationError` when an
    applied migration's file changed, or the database knows a version the files lack.
    """
    wanted = _checked_order(load_migrations() if migrations is None else migrations)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)
        await conn.execute(_CREATE_TABLE)
        rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
        applied = {row["version"]: row for row in rows}
        _verify_history(wanted, applied)
        pending = [m for m in wanted if m.version not in applied]
        for migration in pending:
            await _apply_one(conn, migration)
    return pending


def _verify_history(wanted: Sequence[Migration], applied: dict[int, Any]) -> None:
    known = {m.version: m for m in wanted}
    for version, row in sorted(applied.items()):
        migration = known.get(version)
        if migration is None:
            raise MigrationError(
                f"database has migration {version:04d}_{row['name']} which this version of "
                "Hotline does not know; is the database newer than the code?"
            )
        if row["checksum"] != migration.checksum:
            raise MigrationError(
                f"migration {migration.filename} was changed after it was applied "
                f"(checksum {row['checksum'][:12]} in the database, {migration.checksum[:12]} "
                "in the file); restore the file and put the change in a new migration"
            )


async def _apply_one(conn: Any, migration: Migration) -> None:
    try:
        await conn.execute(migration.sql)
    except asyncpg.PostgresError as exc:
        # asyncpg errors carry the server's message; say which file it came from.
        raise MigrationError(f"migration {migration.filename} failed: {exc}") from exc
    await conn.execute(
        "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
        migration.version,
        migration.name,
        migration.checksum,
    )
