"""Start-up and shutdown of one Hotline process: store, web server, SIP server.

Start order is store -> HTTP -> SIP; shutdown runs the reverse, each step bounded in time:
background tasks, SIP (stop accepting, BYE the dialogs), HTTP, the pool, the embedded
PostgreSQL. A step that fails or hangs is logged and the next one still runs.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime

import asyncpg

from hotline.banner import banner
from hotline.config import Config
from hotline.health import GC_WATCH, Health
from hotline.http import HttpServer, create_app
from hotline.services import Services, start_services
from hotline.sip_service import SipService, SipServiceFactory, load_sip_service
from hotline.store import MigrationError, Store, open_store
from hotline.store.demo import seed_demo
from hotline.tasks import TaskSet

log = logging.getLogger(__name__)

STEP_TIMEOUT = 15.0  # seconds per shutdown step; SIP needs time for BYE transactions
PURGE_INTERVAL = 60.0  # seconds between sweeps of expired registrations

#: gc.set_threshold() for a serving process; see tune_gc. Measured with bench/sip_gc.py at
#: 300 calls/s, 40 s (collections, GC time, longest pause): CPython's default 700 runs
#: 80-130 young collections (3-5 ms of GC per second, pauses up to 6-11 ms); 5,000 runs ~9
#: (0.5-0.9 ms/s, pauses 4-8 ms); 20,000 runs 2 but each walks more young objects (12 ms);
#: 100,000 never collects in 40 s while 30,000 objects pile up for one long pause later.
GC_THRESHOLDS = (5000, 10, 10)

# Failures the operator can fix (port in use, database unreachable or newer than the code,
# embedded PostgreSQL not starting): reported in one line by the CLI, without a traceback.
STARTUP_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    MigrationError,
    asyncpg.PostgresError,
    subprocess.SubprocessError,
)


class Hotline:
    """One running Hotline process. Use ``async with Hotline(config) as hotline: ...``."""

    def __init__(self, config: Config, sip_factory: SipServiceFactory = load_sip_service) -> None:
        self.config = config
        self._sip_factory = sip_factory
        self._stack = AsyncExitStack()
        self.tasks = TaskSet()
        self.store: Store | None = None
        self.services: Services | None = None
        self.sip: SipService | None = None
        self.http: HttpServer | None = None
        self.health: Health | None = None

    async def __aenter__(self) -> Hotline:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Bring every service up; on failure, take down what was started and re-raise."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Shut down in reverse start order. Safe to call twice."""
        if self.health is not None:
            self.health.stopping = True
        await self._stack.aclose()

    async def _start(self) -> None:
        config = self.config
        self.store = store = await open_store(config)
        self._on_stop("database", store.close)
        if config.demo:
            await seed_demo(store)

        self.services = services = await start_services(config, store)
        for name, step in services.stops:
            self._on_stop(name, step)

        self.sip = self._sip_factory(config, store, services)
        self.health = health = Health(store, self.sip)
        self.http = http = HttpServer(create_app(health, store, services))
        await http.start(config.http_host, config.http_port)
        self._on_stop("HTTP", http.stop)
        health.http_up = True

        if self.sip is not None:
            await self.sip.start()
            self._on_stop("SIP", self.sip.stop)
            health.sip_up = True

        self.tasks.spawn(purge_registrations(store), name="purge-registrations")
        self._on_stop("background tasks", self.tasks.cancel_all)

    def _on_stop(self, name: str, step: Callable[[], Awaitable[None]]) -> None:
        self._stack.push_async_callback(_bounded_step, name, step)

    def banner(self) -> str:
        """The "Hotline is up" lines for the console."""
        assert self.http is not None, "banner() before start()"
        return banner(self.config, self.http.port, sip_running=self.sip is not None)


async def _bounded_step(name: str, step: Callable[[], Awaitable[None]]) -> None:
    started = time.monotonic()
    try:
        async with asyncio.timeout(STEP_TIMEOUT):
            await step()
    except TimeoutError:
        log.error("shutdown: %s did not stop within %.0f s; moving on", name, STEP_TIMEOUT)
    except Exception:
        log.exception("shutdown: stopping %s failed; moving on", name)
    else:
        log.info("shutdown: %s stopped in %.2f s", name, time.monotonic() - started)


async def purge_registrations(store: Store, interval: float = PURGE_INTERVAL) -> None:
    """Delete expired registrar bindings every ``interval`` seconds, forever."""
    while True:
        await asyncio.sleep(interval)
        try:
            purged = await store.registrations.purge_expired(datetime.now(UTC))
        except Exception:  # the database may be restarting; try again next round
            log.warning("purging expired registrations failed", exc_info=True)
            continue
        if purged:
            log.info("purged %d expired registrations", purged)


def tune_gc(thresholds: tuple[int, int, int] = GC_THRESHOLDS) -> None:
    """Keep the cyclic garbage collector's pauses short once the process is up.

    Everything alive after start-up (modules, classes, the web app, the pool: some
    50,000 tracked objects) lives as long as the process, yet every generation-2
    collection would walk it with the event loop stopped; ``gc.freeze()`` moves it to
    the permanent generation, which no collection visits. Garbage is collected first,
    so none is frozen; frozen objects are still freed by reference counting. A higher
    first threshold than the default means far fewer young collections, no longer ones
    (``GC_THRESHOLDS``).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)


async def serve(config: Config) -> None:
    """Run Hotline until SIGTERM or SIGINT, then shut down cleanly and return."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _request_stop, stop, sig)
    try:
        async with Hotline(config) as hotline:
            tune_gc()
            GC_WATCH.install()
            if not stop.is_set():
                print(hotline.banner(), flush=True)
                await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    log.info("Hotline stopped")


def _request_stop(stop: asyncio.Event, sig: signal.Signals) -> None:
    if stop.is_set():
        log.warning("%s again: still shutting down", sig.name)
        return
    log.info("%s received: shutting down", sig.name)
    stop.set()
