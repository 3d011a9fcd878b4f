"""An embedded PostgreSQL 16 (the ``pgserver`` wheel) living in the data directory.

Used when no database URL is configured, so ``hotline serve`` works on a bare machine. The
server listens on a unix socket only. pgserver's calls block (initdb, pg_ctl), so the async
methods run them in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class EmbeddedPostgres:
    """One PostgreSQL server in ``pgdata``, started on demand and stopped at shutdown.

    Several Hotline processes may share a data directory: pgserver counts the processes
    holding the server and only the last one to leave actually stops it.
    """

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self._server: Any = None

    @property
    def running(self) -> bool:
        """True between a successful start and stop."""
        return self._server is not None

    async def start(self) -> str:
        """Start (or join) the server; returns its unix-socket connection URL."""
        return await asyncio.to_thread(self.start_blocking)

    async def stop(self) -> None:
        """Leave the server, stopping it if no other process uses it."""
        await asyncio.to_thread(self.stop_blocking)

    def url(self, database: str | None = None) -> str:
        """The connection URL of ``database`` (default: ``postgres``) on the running server."""
        if self._server is None:
            raise RuntimeError("embedded PostgreSQL is not running")
        uri: str = self._server.get_uri(database)
        return uri

    def start_blocking(self) -> str:
        """`start`, for synchronous callers (test fixtures)."""
        pgserver = _import_pgserver()
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        log.info("starting embedded PostgreSQL in %s", self.pgdata)
        with pgserver.PostgresServer._lock:
            _forget_dead_holders(self.pgdata)
        self._server = pgserver.get_server(self.pgdata, cleanup_mode="stop")
        return self.url()

    def stop_blocking(self) -> None:
        """`stop`, for synchronous callers (test fixtures)."""
        server, self._server = self._server, None
        if server is not None:
            log.info("stopping embedded PostgreSQL in %s", self.pgdata)
            server.cleanup()


def _import_pgserver() -> Any:
    # platformdirs warns at import time when XDG_RUNTIME_DIR is unset (root shells, containers)
    # and falls back to /tmp/runtime-<uid>, which is fine for pgserver's lock file. Pointing
    # XDG_RUNTIME_DIR into the data directory instead would make the socket-path fallback (used
    # when pgdata's path is too long for a unix socket) longer still, so only the warning goes.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pgserver.postgres_server as postgres_server

    return postgres_server


def _forget_dead_holders(pgdata: Path) -> None:
    """Drop processes that died without leaving from pgserver's holder list.

    pgserver stops the server only when the leaving process is the last one listed in
    ``.handle_pids.json``; a Hotline killed with SIGKILL stays listed forever and the
    server would then never be stopped again.
    """
    holders = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(holders.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and _pid_alive(pid)]
    if alive != pids:
        holders.write_text(json.dumps(alive))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
