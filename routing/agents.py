"""The agent side of the ACD: what the agent desktop (WebSocket + softphone) builds on.

    session = await services.routing.sign_in("agent1")    # after the web login checked the password
    async for event in session.events():                   # JSON-able dicts, push them to the page
        await ws.send_json(event)
    await session.set_ready()
    await session.answer(offer_id)                          # AgentMedia.connect bridges the audio
    await session.hangup()
    await session.wrap_up_done("resolved", "notes", resolved=True)
    session.disconnect()                                    # WebSocket closed: grace period starts

Signing in again while a session exists (page reload, WebSocket reconnect) returns the *same*
session with its state: an offer still ringing, the call in progress, the wrap-up.  Every
``events()`` iterator starts with a ``state`` snapshot, so a reloaded page can redraw itself.
If nothing reconnects within ``RoutingService.disconnect_grace`` seconds the agent goes not
ready (reason ``disconnected``); a call in progress is never dropped by a disconnect.

Events (``type`` first; times are UNIX seconds, floats):

- ``{"type": "state", "state": "offline|available|reserved|on_call|wrap_up|not_ready",
  "reason": str|None, "since": t, "wrap_up_until": t|None, "offer": {...}|None,
  "call": {...}|None, "held": bool}`` — on every change and first on every ``events()``.
- ``{"type": "offer", "offer_id", "call": {"call_id", "caller", "called"}, "queue",
  "wait_seconds", "expires_at", "context": QueueRequest.context, "screen_pop": dict|None,
  "transferred_from": str|None}`` — ring the agent; answer before ``expires_at`` or RONA.
- ``{"type": "screen_pop", "offer_id", "screen_pop": dict}`` — the CRM answered after the offer
  went out (the offer never waits for a slow CRM; its ``screen_pop`` may be marked pending).
- ``{"type": "offer_cancelled", "offer_id", "reason": "rona|abandoned|expired|disconnected"}``.
- ``{"type": "connected", "offer_id", "call": {...}, "queue", "since"}`` — talking.
- ``{"type": "held", "on": bool}``.
- ``{"type": "ended", "call_id", "reason": "agent_hangup|caller_hangup|transferred"}``.
- ``{"type": "wrap_up", "call_id", "until"}`` — fill the wrap-up form; ``wrap_up_done`` ends it
  early, otherwise the agent becomes available at ``until``.
- ``{"type": "error", "message"}`` — a command was refused (e.g. answering an expired offer).

Commands raise `AgentError` when they do not fit the agent's state (answer with no offer,
hangup with no call...); the desktop shows the message.

Media: on answer the ACD calls ``AgentMedia.connect(username, call)`` (the desktop's aiortc
leg bridged to the caller's RTP leg) and ``disconnect(handle)`` when the call ends or is
transferred.  While held the ACD plays music on hold to the caller (it swaps
``call.background``); ``AgentMedia.hold(handle, on)`` only has to stop the audio both ways.
`NullAgentMedia` bridges nothing, for tests and for a server without the desktop.  The
desktop installs its own at start-up: ``services.routing.media = DesktopMedia(...)``.

Other service calls the desktop may use: ``RoutingService.agent_info(username)`` (skills,
languages), ``queues()`` (names, for the transfer list), ``metrics()`` (live queue/agent
figures for a wallboard).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Protocol

from media.call import Call

Event = dict[str, Any]


class AgentError(Exception):
    """A command that does not fit the agent's current state; ``str(error)`` says why."""


class AgentMedia(Protocol):
    """Connects the agent's audio (the desktop's WebRTC leg) to a caller."""

    async def connect(self, username: str, call: Call) -> Any:
        """Bridge ``username``'s audio to ``call``; returns a handle for the other methods."""
        ...

    async def disconnect(self, handle: Any) -> None:
        """Take the bridge apart (the call may go on: the IVR survey, a transfer)."""
        ...

    async def hold(self, handle: Any, on: bool) -> None:
        """Stop (``on``) or restore the audio both ways; the ACD plays the music."""
        ...


class NullAgentMedia:
    """`AgentMedia` that bridges nothing and remembers what it was asked (tests, no desktop)."""

    def __init__(self) -> None:
        self.connected: dict[int, tuple[str, Call]] = {}
        self.log: list[tuple[str, str, str]] = []  # (action, username, call_id)
        self._next = 0

    async def connect(self, username: str, call: Call) -> int:
        self._next += 1
        self.connected[self._next] = (username, call)
        self.log.append(("connect", username, call.call_id))
        return self._next

    async def disconnect(self, handle: Any) -> None:
        username, call = self.connected.pop(handle)
        self.log.append(("disconnect", username, call.call_id))

    async def hold(self, handle: Any, on: bool) -> None:
        username, call = self.connected[handle]
        self.log.append(("hold" if on else "resume", username, call.call_id))


class SessionBackend(Protocol):
    """What a session asks of the service (`routing.service.RoutingService` implements it)."""

    def snapshot(self, username: str) -> Event: ...
    async def set_ready(self, username: str) -> None: ...
    async def set_not_ready(self, username: str, reason: str) -> None: ...
    async def answer(self, username: str, offer_id: str) -> None: ...
    async def hangup(self, username: str) -> None: ...
    async def hold(self, username: str, on: bool) -> None: ...
    async def transfer(self, username: str, target: str) -> None: ...
    def send_dtmf(self, username: str, digits: str) -> None: ...
    async def wrap_up_done(
        self, username: str, disposition: str, notes: str, resolved: bool
    ) -> None: ...
    def session_disconnected(self, username: str) -> None: ...
    def session_reconnected(self, username: str) -> None: ...
    async def sign_out(self, username: str) -> None: ...


class AgentSession:
    """One signed-in agent in this process; see the module docstring for the events."""

    def __init__(self, backend: SessionBackend, username: str) -> None:
        self._backend = backend
        self.username = username
        self._subscribers: list[asyncio.Queue[Event | None]] = []
        self.connected = True

    # -- events -------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[Event]:
        """A ``state`` snapshot, then every event until the session closes.

        Several iterators may run at once (two tabs); each sees every event.  Starting one
        counts as a reconnect (cancels the disconnect grace period).
        """
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._subscribers.append(queue)
        if not self.connected:
            self.connected = True
            self._backend.session_reconnected(self.username)
        try:
            yield self._backend.snapshot(self.username)
            while (event := await queue.get()) is not None:
                yield event
        finally:
            self._subscribers.remove(queue)

    def publish(self, event: Event) -> None:
        """Deliver ``event`` to every ``events()`` iterator (called by the service)."""
        for queue in self._subscribers:
            queue.put_nowait(event)

    def close(self) -> None:
        """End every ``events()`` iterator (sign-out)."""
        for queue in self._subscribers:
            queue.put_nowait(None)

    # -- commands -------------------------------------------------------------------------

    def snapshot(self) -> Event:
        """The current ``state`` event (what a freshly loaded page draws)."""
        return self._backend.snapshot(self.username)

    async def set_ready(self) -> None:
        """Available for calls (from not ready, or ending the wrap-up early)."""
        await self._backend.set_ready(self.username)

    async def set_not_ready(self, reason: str = "break") -> None:
        """Not ready with ``reason``; during a call or wrap-up it applies when they end."""
        await self._backend.set_not_ready(self.username, reason)

    async def answer(self, offer_id: str) -> None:
        """Take the offered call: the audio is bridged and the caller stops waiting."""
        await self._backend.answer(self.username, offer_id)

    async def hangup(self) -> None:
        """End the agent's side of the call (the caller goes back to the IVR)."""
        await self._backend.hangup(self.username)

    async def hold(self, on: bool = True) -> None:
        """Hold (music to the caller) or resume."""
        await self._backend.hold(self.username, on)

    async def transfer(self, target: str) -> None:
        """Blind transfer: ``"queue:billing"``, ``"agent:agent2"`` or a bare queue/agent name."""
        await self._backend.transfer(self.username, target)

    def send_dtmf(self, digits: str) -> None:
        """Keypad digits to the caller (RFC 4733)."""
        self._backend.send_dtmf(self.username, digits)

    async def wrap_up_done(self, disposition: str, notes: str = "", resolved: bool = False) -> None:
        """End the wrap-up with the form's values; the agent becomes available."""
        await self._backend.wrap_up_done(self.username, disposition, notes, resolved)

    def disconnect(self) -> None:
        """The desktop went away (WebSocket closed): the grace period starts."""
        self.connected = False
        self._backend.session_disconnected(self.username)

    async def sign_out(self) -> None:
        """Offline; ends the ``events()`` iterators."""
        await self._backend.sign_out(self.username)
