"""The SIP server: the asyncio shell around the sans-IO user agent.

:class:`SipServer` owns the transport, the one timer handle the whole stack
needs, the media engine and the registrar.  Call set-up and media are the
:class:`~media.calls.CallController`'s job; REGISTERs are digest-authenticated
here and stored through the small ``Directory`` protocol.  The composition
root (:mod:`hotline`) backs records and bindings with PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..calls import CallController, CallHandler, CallRecords, InviteHook
from ..engine import MediaEngine
from ..ports import PortPool
from ..prompts.tts import PromptCache
from . import call_events as ev
from .digest import DigestAuthenticator, DigestError, Ok, Stale, parse_credentials
from .errors import RemoteProtocolError
from .headers import HeaderValue
from .message import Message, Request, make_response
from .registrar import Binding, IntervalTooBrief, address_of_record, process_register
from .session import EndReason
from .transaction import ServerTransaction, Target, TransactionLayer
from .transport import SipTransport
from .useragent import LocalIdentity, UserAgent

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SipSettings:
    host: str = "0.0.0.0"
    port: int = 5060
    advertised_host: str = "127.0.0.1"  # what goes in Contact, Via and SDP c=
    rtp_host: str = "0.0.0.0"  # where RTP sockets bind
    rtp_ports: tuple[int, int] = (20000, 20999)
    realm: str = "hotline"
    nonce_secret: bytes = b""
    #: seconds of ringing before the answer (0: answer at once); a short ring
    #: gives slow peers' CANCEL a chance and later the CRM look-up a head start
    answer_delay: float = 0.0
    #: offered in this order; RFC 8760 wants SHA-256 first, but some phones (and
    #: SIPp) answer only the first challenge and know only MD5
    digest_algorithms: tuple[str, ...] = ("SHA-256", "MD5")
    #: where stereo call recordings go; None records nothing
    recordings: Path | None = None


class Directory(Protocol):
    """The registrar's users (digest HA1 values) and bindings."""

    async def ha1(self, username: str, realm: str, algorithm: str) -> str | None: ...
    async def bindings(self, aor: str) -> list[Binding]: ...
    async def save_bindings(
        self, aor: str, upserts: list[Binding], removals: list[Binding]
    ) -> None: ...


class SipServer:
    """UDP+TCP SIP server; ``start()``/``stop()``/``status()`` for the composition root."""

    def __init__(
        self,
        settings: SipSettings,
        records: CallRecords,
        directory: Directory,
        prompts: PromptCache,
        handler: CallHandler | None = None,
        on_invite: InviteHook | None = None,
    ) -> None:
        self.settings = settings
        self.records = records
        self.directory = directory
        self.prompts = prompts
        self.handler = handler
        self.on_invite = on_invite
        self.engine = MediaEngine(settings.rtp_host, PortPool(*settings.rtp_ports))
        self.calls: CallController | None = None
        self.auth = DigestAuthenticator(
            settings.realm,
            settings.nonce_secret or _random_secret(),
            algorithms=settings.digest_algorithms,
        )
        self.transport = SipTransport(self._on_message)
        self.ua: UserAgent | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = float("inf")
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle ------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self.transport.start(self.settings.host, self.settings.port)
        port = self.transport.address[1]
        identity = LocalIdentity(self.settings.advertised_host, port)
        self.ua = UserAgent(TransactionLayer(), identity)
        self.calls = CallController(
            self.ua,
            self._pump,
            self.records,
            self.engine,
            self.prompts,
            self.handler,
            advertised_host=self.settings.advertised_host,
            answer_delay=self.settings.answer_delay,
            recordings=self.settings.recordings,
            on_invite=self.on_invite,
        )
        log.info("SIP listening on %s:%d (UDP and TCP)", self.settings.host, port)

    async def stop(self, grace: float = 3.0) -> None:
        """Stop taking calls, end every call (BYE or 503), wait for them, close."""
        if self.ua is None:
            return
        self.ua.accepting = False
        now = self._now()
        for session in self.ua.live_sessions():
            session.end_reason = EndReason.SHUTDOWN
            self.ua.hangup(session, now, status=503)
        self._pump()
        deadline = time.monotonic() + grace
        while self.active_calls and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self._timer is not None:
            self._timer.cancel()
        tasks = list(self._tasks) + (list(self.calls.tasks) if self.calls else [])
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.engine.close()
        await self.transport.close()

    @property
    def active_calls(self) -> int:
        return 0 if self.ua is None else len(self.ua.live_sessions())

    def status(self) -> dict[str, Any]:
        host, port = self.transport.address
        return {
            "listening": self.ua is not None,
            "udp": f"{host}:{port}",
            "tcp": f"{host}:{port}",
            "active_calls": self.active_calls,
            "calls_total": self.calls.calls_total if self.calls else 0,
            "rtp_ports_in_use": self.engine.pool.in_use,
            "media": {
                "legs": len(self.engine.ports),
                "late_ticks": self.engine.late_ticks,
                "skipped_frames": self.engine.skipped_frames,
                "ticks_late_over_5ms": self.engine.late_over_5ms,
                "max_tick_late_ms": round(self.engine.max_late * 1000, 1),
            },
        }

    # -- the pump: input -> user agent -> output --------------------------------

    def _now(self) -> float:
        assert self._loop is not None
        return self._loop.time()

    def _on_message(self, message: Message, source: Target) -> None:
        assert self.ua is not None
        self.ua.receive(message, source, self._now())
        self._pump()

    def _on_timer(self) -> None:
        assert self.ua is not None
        self._timer, self._timer_at = None, float("inf")
        self.ua.handle_timer(self._now())
        self._pump()

    def _pump(self) -> None:
        assert self.ua is not None and self._loop is not None
        events = self.ua.next_events()
        while events:
            for event in events:
                self._handle(event)
            events = self.ua.next_events()
        for message, target in self.ua.messages_to_send():
            self.transport.send(message, target)
        when = self.ua.next_timer()
        if when is not None and when < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self._loop.call_at(when, self._on_timer)
            self._timer_at = when

    def _handle(self, event: ev.Event) -> None:
        calls = self.calls
        assert calls is not None
        if isinstance(event, ev.IncomingCall):
            calls.incoming(event.session)
        elif isinstance(event, ev.CallConfirmed):
            calls.confirmed(event.session, event.ack)
        elif isinstance(event, ev.CallEnded):
            calls.ended(event.session)
        elif isinstance(event, ev.ReinviteReceived):
            calls.reinvite(event.session, event.transaction, event.request)
        elif isinstance(event, ev.InfoReceived):
            calls.info(event.session, event.request)
        elif isinstance(event, ev.RegisterReceived):
            self._spawn(self._register(event.transaction, event.request))

    # -- registrar ----------------------------------------------------------------

    async def _register(self, txn: ServerTransaction, request: Request) -> None:
        headers: list[tuple[str, HeaderValue]] = []
        try:
            status, reason, headers = await self._register_decision(request)
        except RemoteProtocolError as exc:
            status, reason = exc.status, exc.reason
            if isinstance(exc, IntervalTooBrief):
                headers = [("Min-Expires", exc.min_expires)]
        except Exception:  # e.g. the database is down: answer, don't leave the phone hanging
            log.exception("REGISTER failed")
            status, reason = 500, "Server Internal Error (registrar unavailable)"
        if self.ua is None:
            return
        response = make_response(request, status, reason, to_tag=_tag_for(request), headers=headers)
        self.ua.respond(txn, response, self._now())
        self._pump()

    async def _register_decision(
        self, request: Request
    ) -> tuple[int, str | None, list[tuple[str, HeaderValue]]]:
        now = time.time()
        authorization = request.headers.get("Authorization")
        if authorization is None:
            return 401, None, self._challenge_headers(now, stale=False)
        try:
            credentials = parse_credentials(str(authorization))
        except DigestError as exc:
            raise RemoteProtocolError(f"Bad Authorization header: {exc}") from exc
        ha1s = {
            algorithm: await self.directory.ha1(credentials.username, credentials.realm, algorithm)
            for algorithm in ("MD5", "SHA-256")
        }
        result = self.auth.verify(
            credentials,
            method="REGISTER",
            lookup_ha1=lambda _user, _realm, algorithm: ha1s.get(algorithm.removesuffix("-sess")),
            now=now,
        )
        if isinstance(result, Stale):
            return 401, None, self._challenge_headers(now, stale=True)
        if not isinstance(result, Ok):
            return 403, f"Forbidden ({result.reason})", []
        aor = address_of_record(request)
        if request.to.uri.user != result.username:
            return 403, "Forbidden (may not register another user)", []
        existing = await self.directory.bindings(aor)
        decision = process_register(request, existing, now, source=request.via.received)
        await self.directory.save_bindings(aor, decision.upserts, decision.removals)
        return 200, None, decision.response_headers(now)

    def _challenge_headers(self, now: float, *, stale: bool) -> list[tuple[str, HeaderValue]]:
        return [("WWW-Authenticate", str(c)) for c in self.auth.challenges(now, stale=stale)]

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("SIP task failed", exc_info=task.exception())


def _tag_for(request: Request) -> str | None:
    from .ids import new_tag

    return None if request.to.tag else new_tag()


def _random_secret() -> bytes:
    import secrets

    return secrets.token_bytes(32)
