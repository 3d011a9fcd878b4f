"""From SIP sessions to answered calls with media, and the application on each.

:class:`CallController` receives the user agent's call events from the SIP
server.  For a new INVITE it binds an RTP port, answers the SDP offer, rings,
answers, attaches the media leg to the engine and runs the application (the
IVR) on a :class:`~media.call.Call`.  When the call ends, by whichever side or
failure, the port is released and the call record gets its quality figures.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, Protocol

from .call import Call, run_handler
from .codecs import get_codec
from .dtmf.errors import DtmfError
from .dtmf.info import parse_info
from .engine import MediaEngine, RtpPort
from .leg import MediaLeg
from .ports import PortsExhausted
from .prompts.tts import PromptCache
from .recorder import StereoRecorder
from .sip.message import Request
from .sip.sdp import (
    LocalMedia,
    NegotiatedMedia,
    NotAcceptable,
    SdpError,
    SessionDescription,
    answer,
    make_offer,
    negotiate_answer,
    negotiated_from_offer,
)
from .sip.session import CallSession
from .sip.transaction import ServerTransaction
from .sip.useragent import UserAgent

log = logging.getLogger(__name__)

CallHandler = Callable[[Call], Awaitable[None]]
#: told about each new INVITE before anything else happens (the CRM look-up starts here)
InviteHook = Callable[[CallSession], None]
HANDLER_GRACE = 5.0  # seconds an application may run on after its call ended


class CallRecords(Protocol):
    """Where call records go.  Methods must not block: implementations queue."""

    def call_started(self, session: CallSession, at: float) -> None: ...
    def call_answered(self, session: CallSession, at: float) -> None: ...
    def call_event(self, session: CallSession, event: dict[str, Any]) -> None: ...
    def call_quality(self, session: CallSession, quality: dict[str, Any]) -> None: ...
    def call_ended(self, session: CallSession, at: float, reason: str) -> None: ...


class CallController:
    """Call set-up, media and tear-down for the SIP server's sessions."""

    def __init__(
        self,
        ua: UserAgent,
        pump: Callable[[], None],
        records: CallRecords,
        engine: MediaEngine,
        prompts: PromptCache,
        handler: CallHandler | None,
        *,
        advertised_host: str,
        answer_delay: float = 0.0,
        recordings: Path | None = None,
        on_invite: InviteHook | None = None,
    ) -> None:
        self.ua = ua
        self.pump = pump
        self.records = records
        self.engine = engine
        self.prompts = prompts
        self.handler = handler
        self.advertised_host = advertised_host
        self.answer_delay = answer_delay
        self.recordings = recordings
        self.on_invite = on_invite
        self.tasks: set[asyncio.Task[None]] = set()
        self.calls_total = 0

    # -- set-up ---------------------------------------------------------------------

    def incoming(self, session: CallSession) -> None:
        invite = session.invite
        if invite.body and invite.content_type != "application/sdp":
            self.ua.reject(session, 415, self.engine.now(), headers=[("Accept", "application/sdp")])
            return
        if self.on_invite is not None:
            try:
                self.on_invite(session)
            except Exception:  # a hook's bug must not cost the caller the call
                log.exception("INVITE hook failed for %s", session.call_id)
        self.spawn(self._set_up_or_fail(session))

    async def _set_up_or_fail(self, session: CallSession) -> None:
        try:
            await self._set_up(session)
        except Exception:  # a bug must not leave the caller ringing forever
            log.exception("setting up call %s failed", session.call_id)
            self._reject(session, 500, reason="Server Internal Error (call set-up failed)")

    async def _set_up(self, session: CallSession) -> None:
        try:
            port = await self.engine.bind()
        except PortsExhausted:
            self._reject(session, 503, headers=[("Retry-After", "10")])
            return
        session.app["port"] = port
        if not session.can("ring"):  # CANCELled while we were binding
            self.engine.release(port)
            return
        try:
            body, negotiated = self._sdp(session, port.number)
        except NotAcceptable as exc:
            self._reject(session, 488, headers=[("Warning", exc.warning)])
            return
        except SdpError as exc:
            self._reject(session, 400, reason=f"Bad SDP: {exc}")
            return
        self.calls_total += 1
        self.records.call_started(session, time.time())
        session.app["recorded"] = True
        self.ua.ring(session, self.engine.now())
        self.pump()
        if self.answer_delay > 0:
            await asyncio.sleep(self.answer_delay)
            if not session.can("answer"):
                return
        self._answer(session, body, negotiated)

    def _sdp(self, session: CallSession, port: int) -> tuple[bytes, NegotiatedMedia | None]:
        """Our SDP for the 200 and, when the INVITE had an offer, what it settles."""
        local = LocalMedia(address=self.advertised_host, port=port)
        if not session.invite.body:  # offer in our 200, answer in the ACK (§13.2.1)
            offer = make_offer(local)
            session.app["our_offer"] = offer
            return bytes(offer), None
        remote = SessionDescription.parse(session.invite.body)
        reply = answer(remote, local)
        return bytes(reply), negotiated_from_offer(remote, reply)

    def _answer(
        self, session: CallSession, body: bytes, negotiated: NegotiatedMedia | None
    ) -> None:
        self.ua.answer(session, body, self.engine.now())
        self.records.call_answered(session, time.time())
        if negotiated is not None:
            self._start_media(session, negotiated)
        self.pump()

    def _start_media(self, session: CallSession, media: NegotiatedMedia) -> None:
        port: RtpPort = session.app["port"]
        remote = None if media.on_hold else (media.remote_address, media.remote_port)
        leg = MediaLeg(
            codec=get_codec(media.codec),
            payload_type=media.payload_type,
            telephone_event_pt=media.telephone_event_pt,
            remote=remote,
            on_digit=lambda digit: None,
            inband_dtmf=media.telephone_event_pt is None,
        )
        if self.recordings is not None:
            self._record(session, leg)
        self.engine.attach(port, leg)
        call = Call(
            session.call_id,
            str(session.invite.from_.uri),
            str(session.invite.to.uri),
            leg,
            self.prompts,
            record=lambda event: self.records.call_event(session, event),
            hangup=lambda: self.hangup(session),
        )
        session.app["call"] = call
        if self.handler is not None:
            session.app["task"] = self.spawn(run_handler(call, self.handler))

    def _record(self, session: CallSession, leg: MediaLeg) -> None:
        """A stereo WAV of the call: the caller left, what we sent right."""
        assert self.recordings is not None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        safe_id = "".join(c if c.isalnum() or c in "-_." else "_" for c in session.call_id)[:80]
        path = self.recordings / f"{stamp}-{safe_id}.wav"
        self.recordings.mkdir(parents=True, exist_ok=True)
        recorder = StereoRecorder(path)
        leg.attach_jitter_buffer()
        leg.recorder = recorder.write
        session.app["recorder"] = recorder
        self.records.call_event(session, {"type": "recording", "file": str(path)})

    def _reject(self, session: CallSession, status: int, **kwargs: Any) -> None:
        port = session.app.pop("port", None)
        if port is not None:
            self.engine.release(port)
        if session.can("reject"):
            self.ua.reject(session, status, self.engine.now(), **kwargs)
            self.pump()

    # -- in the call ------------------------------------------------------------------

    def confirmed(self, session: CallSession, ack: Request) -> None:
        offer = session.app.pop("our_offer", None)
        if offer is None:
            return
        try:
            media = negotiate_answer(offer, SessionDescription.parse(ack.body))
        except SdpError as exc:  # §13.2.1: a bad answer in the ACK ends the call
            log.info("bad SDP answer in ACK on %s: %s", session.call_id, exc)
            self.hangup(session)
            return
        self._start_media(session, media)

    def reinvite(self, session: CallSession, txn: ServerTransaction, request: Request) -> None:
        now = self.engine.now()
        port: RtpPort | None = session.app.get("port")
        try:
            offer = SessionDescription.parse(request.body)
            reply = answer(offer, LocalMedia(self.advertised_host, port.number if port else 0))
        except NotAcceptable:
            self.ua.answer_reinvite(session, txn, 488, now)
            return
        except SdpError:
            self.ua.answer_reinvite(session, txn, 400, now)
            return
        media = negotiated_from_offer(offer, reply)
        call: Call | None = session.app.get("call")
        if call is not None:  # hold: stop sending; resume to the (maybe new) address
            call.leg.remote = None if media.on_hold else (media.remote_address, media.remote_port)
            call.leg.latched = False
        self.records.call_event(session, {"type": "hold" if media.on_hold else "unhold"})
        self.ua.answer_reinvite(session, txn, 200, now, body=bytes(reply))

    def info(self, session: CallSession, request: Request) -> None:
        """SIP INFO DTMF (application/dtmf-relay): the same digit events as RTP."""
        call: Call | None = session.app.get("call")
        if call is None:
            return
        try:
            digit = parse_info(request.content_type or "", request.body, self.engine.now())
        except DtmfError as exc:
            log.info("INFO on %s carries no key press: %s", session.call_id, exc)
            return
        call.leg.on_digit(digit)

    def hangup(self, session: CallSession) -> None:
        self.ua.hangup(session, self.engine.now())
        self.pump()

    # -- tear-down ----------------------------------------------------------------------

    def ended(self, session: CallSession) -> None:
        reason = session.end_reason.value if session.end_reason else "unknown"
        # pop, not get: session -> app -> Call -> closures -> session is a cycle the
        # garbage collector would otherwise have to find for every call
        call: Call | None = session.app.pop("call", None)
        if call is not None:
            call.closed(reason)
            self.records.call_quality(session, call.leg.quality())
        port = session.app.pop("port", None)
        if port is not None:
            self.engine.release(port)
        recorder = session.app.pop("recorder", None)
        if recorder is not None:
            self.spawn(recorder.close())
        task = session.app.pop("task", None)
        if task is not None:
            asyncio.get_running_loop().call_later(HANDLER_GRACE, task.cancel)
        if session.app.get("recorded"):
            self.records.call_event(session, {"type": "hangup", "reason": reason})
            self.records.call_ended(session, time.time(), reason)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("call task failed", exc_info=task.exception())
