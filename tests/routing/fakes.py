"""A stand-in for `media.call.Call` (the ACD only drives its public surface) and helpers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import numpy as np

from hotline.store import Store
from routing.agents import AgentSession, Event
from routing.model import QueueConfig
from routing.store import RoutingStore


class FakeCall:
    """Records what the ACD did to the caller; prompts "play" at once."""

    def __init__(self, call_id: str, caller: str = "sip:+48601000001@127.0.0.1") -> None:
        self.call_id = call_id
        self.caller = caller
        self.called = "sip:hotline@127.0.0.1"
        self.background: Any = None
        self.said: list[str] = []
        self.events: list[dict[str, Any]] = []
        self.digits: list[str] = []
        self.ended = asyncio.Event()
        self.playing = False

    async def say(self, text: str, *, language: str = "en", **_: Any) -> bool:
        self.said.append(text)
        return not self.ended.is_set()

    async def play(self, prompt: Any, **_: Any) -> bool:
        return not self.ended.is_set()

    def stop_playback(self) -> None:
        pass

    def record_event(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def send_dtmf(self, digits: str, duration_ms: int = 100) -> None:
        self.digits.append(digits)

    async def audio_frames(self) -> AsyncIterator[np.ndarray]:
        for _ in range(10):
            yield np.zeros(160, dtype=np.int16)

    async def hangup(self) -> None:
        self.ended.set()

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]


async def seed(store: Store, queues: list[QueueConfig], agents: dict[str, dict[str, int]]) -> None:
    """Queues, and agent accounts with skills (language en)."""
    rows = RoutingStore(store.pool)
    for queue in queues:
        await rows.save_queue(queue)
    for username, skills in agents.items():
        await store.pool.execute(
            "INSERT INTO users (username, password_hash, role) VALUES ($1, 'x', 'agent')"
            " ON CONFLICT DO NOTHING",
            username,
        )
        await rows.save_agent(username, skills, ["en"])


class Desk:
    """An agent's event stream collected in the background, with waits on it."""

    def __init__(self, session: AgentSession) -> None:
        self.session = session
        self.events: list[Event] = []
        self._changed = asyncio.Condition()
        self._task = asyncio.ensure_future(self._collect())

    async def _collect(self) -> None:
        async for event in self.session.events():
            async with self._changed:
                self.events.append(event)
                self._changed.notify_all()

    async def wait_for(self, type_: str, timeout: float = 10.0, **match: Any) -> Event:
        """The first event of ``type_`` (matching ``match``) not yet taken."""

        def found() -> Event | None:
            for event in self.events:
                if event["type"] == type_ and all(event.get(k) == v for k, v in match.items()):
                    return event
            return None

        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: found() is not None)
        event = found()
        assert event is not None
        self.events.remove(event)
        return event

    def states(self) -> list[str]:
        return [e["state"] for e in self.events if e["type"] == "state"]

    async def close(self) -> None:
        self._task.cancel()
        with __import__("contextlib").suppress(asyncio.CancelledError):
            await self._task
