"""A stand-in ACD for desktop tests: the real `AgentSession`, a scripted backend.

It follows `routing.agents` (events, commands, `AgentMedia` bridging) closely enough
to drive the pages without queues: the test offers a call to an agent by hand.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from media.call import Call
from routing.agents import AgentError, AgentSession, Event, NullAgentMedia


class FakeAcd:
    def __init__(self) -> None:
        self.media: Any = NullAgentMedia()
        self.sessions: dict[str, AgentSession] = {}
        self.state: dict[str, dict[str, Any]] = {}
        self.calls: dict[str, Call] = {}
        self.handles: dict[str, Any] = {}
        self.wrap_ups: list[tuple[str, str, str, bool]] = []
        self.log: list[tuple[str, Any]] = []
        #: set when the agent hangs up a call (by call_id); a test call handler waits on it
        self.agent_done: dict[str, asyncio.Event] = {}
        #: called with (username, call_id, disposition, notes, resolved) at wrap-up
        self.on_wrap_up: Callable[..., Awaitable[None]] | None = None
        self._last_call: dict[str, str] = {}

    async def sign_in(self, username: str) -> AgentSession:
        if username not in self.sessions:
            self.sessions[username] = AgentSession(self, username)
            self.state[username] = {"state": "not_ready", "reason": "signed_in",
                                    "since": time.time(), "offer": None, "call": None,
                                    "held": False}  # fmt: skip
        return self.sessions[username]

    def queues(self) -> list[str]:
        return ["orders", "returns", "billing"]

    # -- the test's hand on the ACD -----------------------------------------------------

    def offer(self, username: str, call: Call, screen_pop: dict[str, Any] | None,
              context: dict[str, Any], queue: str = "orders") -> str:  # fmt: skip
        offer_id = uuid.uuid4().hex
        self.calls[offer_id] = call
        self.agent_done.setdefault(call.call_id, asyncio.Event())
        offer = {"type": "offer", "offer_id": offer_id, "queue": queue, "wait_seconds": 42.0,
                 "call": {"call_id": call.call_id, "caller": call.caller, "called": call.called},
                 "expires_at": time.time() + 30, "context": context, "screen_pop": screen_pop,
                 "transferred_from": None}  # fmt: skip
        self._set(username, "reserved", offer=offer)
        self.sessions[username].publish(offer)
        return offer_id

    def screen_pop(self, username: str, offer_id: str, pop: dict[str, Any]) -> None:
        event = {"type": "screen_pop", "offer_id": offer_id, "screen_pop": pop}
        self.sessions[username].publish(event)

    def _set(self, username: str, state: str, **changes: Any) -> None:
        self.state[username].update(state=state, since=time.time(), **changes)
        self.sessions[username].publish(self.snapshot(username))

    # -- SessionBackend -------------------------------------------------------------------

    def snapshot(self, username: str) -> Event:
        return {"type": "state", "wrap_up_until": None, **self.state[username]}

    async def set_ready(self, username: str) -> None:
        self._set(username, "available", reason=None)

    async def set_not_ready(self, username: str, reason: str) -> None:
        self._set(username, "not_ready", reason=reason)

    async def answer(self, username: str, offer_id: str) -> None:
        offer = self.state[username]["offer"]
        if offer is None or offer["offer_id"] != offer_id:
            raise AgentError("no such offer")
        call = self.calls[offer_id]
        self.handles[username] = await self.media.connect(username, call)
        since = time.time()
        info = {**offer["call"], "since": since}
        self._set(username, "on_call", offer=None, call=info)
        self.sessions[username].publish({"type": "connected", "offer_id": offer_id, "call": info,
                                         "queue": offer["queue"], "since": since})  # fmt: skip

    async def hangup(self, username: str) -> None:
        call = self.state[username]["call"]
        if call is None:
            raise AgentError("no call")
        await self.media.disconnect(self.handles.pop(username))
        session = self.sessions[username]
        self._last_call[username] = call["call_id"]
        self.agent_done.setdefault(call["call_id"], asyncio.Event()).set()
        session.publish({"type": "ended", "call_id": call["call_id"], "reason": "agent_hangup"})
        until = time.time() + 60
        self._set(username, "wrap_up", call=None, held=False, wrap_up_until=until)
        session.publish({"type": "wrap_up", "call_id": call["call_id"], "until": until})

    async def hold(self, username: str, on: bool) -> None:
        await self.media.hold(self.handles[username], on)
        self.state[username]["held"] = on
        self.sessions[username].publish({"type": "held", "on": on})

    async def transfer(self, username: str, target: str) -> None:
        self.log.append(("transfer", target))

    def send_dtmf(self, username: str, digits: str) -> None:
        self.log.append(("dtmf", digits))

    async def wrap_up_done(
        self, username: str, disposition: str, notes: str, resolved: bool
    ) -> None:
        self.wrap_ups.append((username, disposition, notes, resolved))
        if self.on_wrap_up is not None:
            await self.on_wrap_up(username, self._last_call.get(username), disposition, notes,
                                  resolved)  # fmt: skip
        self._set(username, "available", reason=None, wrap_up_until=None)

    def session_disconnected(self, username: str) -> None:
        self.log.append(("disconnected", username))

    def session_reconnected(self, username: str) -> None:
        self.log.append(("reconnected", username))

    async def sign_out(self, username: str) -> None:
        self.sessions.pop(username).close()
