"""Backs the SIP server's storage seams with the PostgreSQL store.

``media.sip.server.SipServer(settings, records, directory)`` asks for two small protocols:
``CallRecords`` (called synchronously from its packet pump, so it must never block) and
``Directory`` (awaited by the registrar). This module implements both over `Store` and
bundles server + writer into one `SipService` for `hotline.app`.

The SIP objects are used by attribute only (``session.call_id``, ``session.invite.from_``,
``session.app``), so importing this module does not import ``media.sip``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from hotline.store import Binding, Store
from hotline.store.call_log import CallLog

log = logging.getLogger(__name__)

RECORD_ID = "call_record"  # key in session.app holding the session's CallHandle


def node_name() -> str:
    """Names this process in call records: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class StoreCallRecords:
    """The SIP server's ``CallRecords`` over a write-behind `CallLog`.

    Each session keeps its `CallHandle` in ``session.app[RECORD_ID]``; the
    handle's ``id`` is the ``calls.id`` once the first batch is written.
    """

    def __init__(self, store: Store, node: str | None = None) -> None:
        self.log = CallLog(store.pool, node or node_name())

    def call_started(self, session: Any, at: float) -> None:
        """A new call is ringing."""
        invite = session.invite
        session.app[RECORD_ID] = self.log.start(
            session.call_id,
            str(invite.from_.uri),
            str(invite.to.uri),
            invite.from_.display,
            _utc(at),
        )

    def call_answered(self, session: Any, at: float) -> None:
        """The call was answered."""
        if RECORD_ID in session.app:
            self.log.answered(session.app[RECORD_ID], _utc(at))

    def call_event(self, session: Any, event: dict[str, Any]) -> None:
        """Something happened on the call; stamped now, written soon."""
        if RECORD_ID in session.app:
            self.log.event(session.app[RECORD_ID], event)

    def call_quality(self, session: Any, quality: dict[str, Any]) -> None:
        """The call's media figures (packets, loss, jitter, MOS)."""
        if RECORD_ID in session.app:
            self.log.quality(session.app[RECORD_ID], quality)

    def call_ended(self, session: Any, at: float, reason: str) -> None:
        """The call is over."""
        if RECORD_ID in session.app:
            self.log.ended(session.app[RECORD_ID], _utc(at), reason)

    async def run(self) -> None:
        """The writer task: apply queued writes until cancelled."""
        await self.log.run()

    async def drain(self) -> None:
        """Wait until every queued write is in the database."""
        await self.log.drain()


class StoreDirectory:
    """The SIP server's ``Directory``: digest HA1 values and registrar bindings.

    ``make_binding`` builds the SIP layer's own binding value (``media.sip.registrar.Binding``,
    epoch-second expiry) from keyword arguments.
    """

    def __init__(self, store: Store, make_binding: Callable[..., Any]) -> None:
        self._store = store
        self._make_binding = make_binding

    async def ha1(self, username: str, realm: str, algorithm: str) -> str | None:
        """The stored HA1 for ``algorithm``, or None (unknown user or algorithm)."""
        user = await self._store.sip_users.get(username, realm)
        if user is None:
            return None
        try:
            return user.ha1(algorithm)
        except ValueError:
            return None

    async def bindings(self, aor: str) -> list[Any]:
        """The unexpired bindings of ``aor``."""
        rows = await self._store.registrations.bindings(aor, datetime.now(UTC))
        return [
            self._make_binding(
                aor=row.aor,
                contact=row.contact,
                expires_at=row.expires_at.timestamp(),
                call_id=row.call_id,
                cseq=row.cseq,
                received=row.received,
                user_agent=row.user_agent,
            )
            for row in rows
        ]

    async def save_bindings(
        self, aor: str, upserts: Sequence[Any], removals: Sequence[Any]
    ) -> None:
        """Apply one REGISTER's outcome atomically."""
        await self._store.registrations.save(
            [_to_row(aor, b) for b in upserts], [_to_row(aor, b) for b in removals]
        )


def _to_row(aor: str, binding: Any) -> Binding:
    return Binding(
        aor=aor,
        contact=binding.contact,
        expires_at=_utc(binding.expires_at),
        call_id=binding.call_id,
        cseq=binding.cseq,
        user_agent=binding.user_agent,
        received=binding.received,
    )


class WiredSipService:
    """A SIP server plus its record writer, started and stopped as one `SipService`."""

    def __init__(
        self, server: Any, records: StoreCallRecords, prompts: Any = None, warm: Sequence[str] = ()
    ) -> None:
        self.server = server
        self.records = records
        self.prompts = prompts
        self.warm = list(warm)
        self._writer: asyncio.Task[None] | None = None
        self._warming: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the record writer, then the SIP server."""
        self._writer = asyncio.create_task(self.records.run(), name="call-record-writer")
        try:
            await self.server.start()
        except BaseException:
            await self._stop_writer()
            raise
        if self.prompts is not None and self.warm:
            self._warming = asyncio.create_task(self._warm_prompts(), name="warm-prompts")

    async def _warm_prompts(self) -> None:
        """Render the application's fixed prompts now, so the first caller waits for none."""
        for text in self.warm:
            try:
                await self.prompts.speech(text)
            except Exception:
                log.warning("could not pre-render prompt %r", text, exc_info=True)

    async def stop(self) -> None:
        """Stop the SIP server (BYE to every call), then write its last records."""
        started = time.monotonic()
        if self._warming is not None:
            self._warming.cancel()
        try:
            await self.server.stop()
        finally:
            await self._stop_writer()
            if self.prompts is not None:
                await self.prompts.aclose()
        log.info("SIP stopped in %.2f s", time.monotonic() - started)

    def status(self) -> dict[str, Any]:
        """The SIP server's status."""
        status: dict[str, Any] = self.server.status()
        return status

    async def _stop_writer(self) -> None:
        if self._writer is None:
            return
        try:
            await self.records.drain()
        finally:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
            self._writer = None
