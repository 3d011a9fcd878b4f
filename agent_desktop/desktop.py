"""The agent desktop: its pages and the WebSocket that carries the ACD's events and commands.

``GET /agent/ws`` upgrades to a WebSocket.  The page's first message authenticates it
(``{"type": "hello", "token": <bearer token from POST /api/v1/login>}``; a browser cannot
set an Authorization header on a WebSocket, and a token in the URL would end up in
access logs).  The server answers ``{"type": "welcome", "username", "role", "queues"}``
and then forwards every `routing.agents.AgentSession` event as it is.

Page -> server (``type`` first): ``ready``, ``not_ready {reason}``, ``answer {offer_id}``,
``hangup``, ``hold {on}``, ``mute {on}``, ``transfer {target}``, ``dtmf {digits}``,
``wrap_up {disposition, notes, resolved}``, ``webrtc_offer {sdp}`` (answered with
``webrtc_answer {sdp}``), ``ping`` (``pong``).  A refused command comes back as
``{"type": "error", "message", "command"}``; the connection stays up.

Closing the socket (reload, network) starts the ACD's grace period; the agent's
:class:`media.webrtc.AgentMedia` stays with its call, so a reload signs in to the same
session, sees the call in the first ``state`` event and negotiates audio again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from hotline.store.tokens import TokenStore
from media.webrtc import AgentMediaError, AgentMediaHub
from routing.agents import AgentError, AgentSession

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
HELLO_TIMEOUT = 10.0
DESKTOP_ROLES = ("agent", "supervisor", "admin")
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403



@dataclass
class DesktopState:
    """What the desktop's handlers share: tokens to check, the ACD, the agents' media."""

    tokens: TokenStore
    routing: Any  # routing.service.RoutingService, or None in a server without the ACD
    media: AgentMediaHub


DESKTOP = web.AppKey("desktop", DesktopState)


def add_desktop(app: web.Application, tokens: TokenStore, routing: Any) -> AgentMediaHub:
    """Mount the pages and the WebSocket; the ACD bridges calls through the returned hub."""
    hub = AgentMediaHub()
    app[DESKTOP] = DesktopState(tokens, routing, hub)
    if routing is not None:
        routing.media = hub
    app.router.add_get("/agent/ws", websocket)
    app.router.add_get("/login", _page("login.html"))
    app.router.add_get("/softphone", _page("softphone.html"))
    app.router.add_static("/static", STATIC)
    app.on_shutdown.append(_close_media)
    return hub


def _page(name: str) -> Any:
    async def page(request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})

    return page


async def _close_media(app: web.Application) -> None:
    await app[DESKTOP].media.close_all()


async def websocket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(heartbeat=15.0, max_msg_size=1 << 20)
    await ws.prepare(request)
    principal = await _hello(request, ws)
    if principal is None:
        return ws
    username, role = principal
    state = request.app[DESKTOP]
    routing = state.routing
    if routing is None:
        await ws.close(code=CLOSE_FORBIDDEN, message=b"no ACD in this server")
        return ws
    session: AgentSession = await routing.sign_in(username)
    connection = DesktopConnection(ws, session, state.media)
    await ws.send_json({"type": "welcome", "username": username, "role": role,
                        "queues": await _queues(routing)})  # fmt: skip
    await connection.run()
    return ws


async def _hello(request: web.Request, ws: web.WebSocketResponse) -> tuple[str, str] | None:
    """The account behind the first message's token, or None (the socket is then closed)."""
    try:
        msg = await ws.receive(timeout=HELLO_TIMEOUT)
        hello = json.loads(msg.data) if msg.type is WSMsgType.TEXT else {}
    except (TimeoutError, ValueError):
        hello = {}
    token = hello.get("token") if isinstance(hello, dict) and hello.get("type") == "hello" else None
    info = await request.app[DESKTOP].tokens.lookup(token) if isinstance(token, str) else None
    if info is None or info.expired(datetime.now(UTC)):
        await ws.close(code=CLOSE_UNAUTHORIZED, message=b"sign in first")
        return None
    if info.role not in DESKTOP_ROLES:
        await ws.close(code=CLOSE_FORBIDDEN, message=b"not an agent account")
        return None
    return info.username, info.role


async def _queues(routing: Any) -> list[str]:
    queues = getattr(routing, "queues", None)
    if queues is None:
        return []
    try:
        result = queues()
        if asyncio.iscoroutine(result):
            result = await result
        return [q if isinstance(q, str) else getattr(q, "name", str(q)) for q in result]
    except Exception:
        log.warning("listing queues for the desktop failed", exc_info=True)
        return []


class DesktopConnection:
    """One open desktop WebSocket: events out, commands in, until either side closes."""

    def __init__(self, ws: web.WebSocketResponse, session: AgentSession, hub: AgentMediaHub):
        self.ws = ws
        self.session = session
        self.media = hub.session(session.username)

    async def run(self) -> None:
        forward = asyncio.create_task(self._forward(), name=f"desktop-{self.session.username}")
        try:
            async for msg in self.ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                await self._command(msg.data)
        finally:
            forward.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await forward
            self.session.disconnect()

    async def _forward(self) -> None:
        async for event in self.session.events():
            # sent_at: for the page's offer -> screen-pop latency figure (bench/)
            event = {**event, "sent_at": time.time()}
            if event.get("type") == "state":
                event["muted"] = self.media.muted
            await self.ws.send_json(event)
        await self.ws.close()  # signed out elsewhere

    async def _command(self, data: str) -> None:
        try:
            message = json.loads(data)
            if not isinstance(message, dict):
                raise ValueError("a command is a JSON object")
            reply = await self._dispatch(str(message.get("type")), message)
        except (AgentError, AgentMediaError, ValueError, KeyError, TypeError) as exc:
            reply = {"type": "error", "message": str(exc), "command": _kind(data)}
        if reply is not None:
            await self.ws.send_json(reply)

    async def _dispatch(self, kind: str, m: dict[str, Any]) -> dict[str, Any] | None:
        session = self.session
        if kind == "webrtc_offer":
            return {"type": "webrtc_answer", "sdp": await self.media.accept_offer(str(m["sdp"]))}
        if kind == "ready":
            await session.set_ready()
        elif kind == "not_ready":
            await session.set_not_ready(str(m.get("reason") or "break"))
        elif kind == "answer":
            await session.answer(str(m["offer_id"]))
        elif kind == "hangup":
            await session.hangup()
        elif kind == "hold":
            await session.hold(bool(m.get("on", True)))
        elif kind == "mute":
            self.media.mute(bool(m.get("on", True)))
            return {"type": "muted", "on": self.media.muted}
        elif kind == "transfer":
            await session.transfer(str(m["target"]))
        elif kind == "dtmf":
            session.send_dtmf(str(m["digits"]))
        elif kind == "wrap_up":
            await session.wrap_up_done(
                str(m.get("disposition") or ""), str(m.get("notes") or ""),
                resolved=bool(m.get("resolved")),
            )  # fmt: skip
        elif kind == "ping":
            return {"type": "pong"}
        else:
            raise ValueError(f"unknown command {kind!r}")
        return None


def _kind(data: str) -> str | None:
    with contextlib.suppress(ValueError, AttributeError):
        kind = json.loads(data).get("type")
        return kind if isinstance(kind, str) else None
    return None
