"""Readiness of the process: SIP, HTTP and the database, as reported by ``GET /healthz``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from hotline import __version__
from hotline.gc_watch import GcWatch
from hotline.sip_service import SipService
from hotline.store import Store

log = logging.getLogger(__name__)

#: the process's collector pauses; installed by `hotline.app.serve`
GC_WATCH = GcWatch()


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The answer to a health check: ``ok`` picks 200 vs 503, ``body`` is the JSON."""

    ok: bool
    body: dict[str, Any]


class Health:
    """Tracks what has started; `check` adds live probes of the database and the SIP server.

    The lifecycle code flips the flags; the report is ready only when every part is up and
    the process is not shutting down (so a load balancer drains it before it stops).
    """

    def __init__(self, store: Store, sip: SipService | None) -> None:
        self.store = store
        self.sip = sip
        self.http_up = False
        self.sip_up = False
        self.stopping = False

    async def check(self) -> HealthReport:
        """Probe the parts now and summarize."""
        sip_ok, sip_body = self._check_sip()
        db_ok, db_text = await self._check_database()
        ok = sip_ok and db_ok and self.http_up and not self.stopping
        status = "ok" if ok else "stopping" if self.stopping else "unavailable"
        body = {
            "status": status,
            "sip": sip_body,
            "database": db_text,
            "gc": GC_WATCH.status(),
            "version": __version__,
        }
        return HealthReport(ok, body)

    def _check_sip(self) -> tuple[bool, dict[str, Any]]:
        if self.sip is None:
            # a process built without SIP (a factory returning None): web and database only
            return True, {"enabled": False, "reason": "no SIP service in this process"}
        try:
            status = dict(self.sip.status())
        except Exception as exc:  # a broken status() must not break the health endpoint
            log.exception("SIP status failed")
            return False, {"enabled": True, "error": str(exc)}
        ok = self.sip_up and bool(status.get("running", True))
        return ok, {"enabled": True, **status}

    async def _check_database(self) -> tuple[bool, str]:
        try:
            await self.store.ping()
        except Exception as exc:  # any failure here simply means "not ready"
            return False, f"error: {exc.__class__.__name__}: {exc}"
        return True, "ok"
