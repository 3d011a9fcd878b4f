"""Shared fixtures: one real PostgreSQL per test session, a fresh database per test."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from hotline.config import Config
from hotline.store import Store, open_store
from hotline.store.embedded import EmbeddedPostgres


def with_database(url: str, database: str) -> str:
    """``url`` pointing at another database on the same server."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of an embedded PostgreSQL started once for the whole test session.

    Its folder is outside pytest's numbered temp folders: pytest deletes old ones
    when several sessions run side by side, which would pull the live database's
    files away.
    """
    folder = Path(tempfile.mkdtemp(prefix="hotline-test-pg-"))
    server = EmbeddedPostgres(folder / "pg")
    url = server.start_blocking()
    try:
        yield url
    finally:
        server.stop_blocking()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
async def database_url(postgres_url: str) -> AsyncIterator[str]:
    """URL of a new, empty database that is dropped after the test."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield with_database(postgres_url, name)
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> Config:
    """A configuration using the test's own database and data directory."""
    return Config(database_url=database_url, data_dir=tmp_path / "var")


@pytest.fixture
async def store(config: Config) -> AsyncIterator[Store]:
    """An open, migrated `Store` on the test's own database."""
    opened = await open_store(config)
    try:
        yield opened
    finally:
        await opened.close()
