"""`RoutingService`: the asyncio edge of the ACD (Contract C for the IVR, sessions for agents).

One `routing.acd.Acd` per process makes the decisions in memory; this module feeds it the
clock, the callers and the agents' commands, and carries its events out: rows (with the
reservation taken in PostgreSQL before an offer rings), offers and states to the desktops,
music and announcements to the callers, the media bridge on answer.

Several processes may share one database.  A process routes the callers whose media it holds
to the agents signed in on it; an agent may be signed in on several (two tabs behind a load
balancer), and every process mirrors the agent states the others write (LISTEN/NOTIFY plus a
periodic resync).  Whoever wins `RoutingStore.reserve` rings the agent; the loser puts the
call back in its place and routes again.

Core mutations and the rows they write run under one lock, so the database never lags the
in-memory state by more than the statement in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hotline.store import Store
from media.call import Call
from routing import holding
from routing.acd import Acd
from routing.agents import AgentError, AgentMedia, AgentSession, Event, NullAgentMedia
from routing.contract import QueueOutcome, QueueRequest
from routing.crm import ScreenPopHook, WrapUpHook, crm_screen_pop
from routing.effects import EventCarrier, Waiter
from routing.model import AgentState, QueueConfig, RoutingError
from routing.store import CHANNEL, RoutingStore

log = logging.getLogger(__name__)

AGENT_ROLES = ("agent", "supervisor", "admin")
NODE_SILENCE = 6  # resync periods without a heartbeat before a process counts as dead
NODE_SILENCE_MIN = 60.0  # seconds: a busy or paused process is not a dead one


@dataclass(eq=False)
class _Talk:
    """An agent's current call (``call`` is None for a callback)."""

    username: str
    call_id: str
    queue: str
    call: Call | None
    offer: Event
    since: float
    handle: Any = None
    held: bool = False
    music: Any = None
    saved_background: Any = None
    watcher: asyncio.Task[None] | None = None


@dataclass
class _Last:
    call_id: str | None = None
    queue: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class RoutingService(EventCarrier):
    """The ACD service of one process; see the module docstring and `routing.agents`."""

    def __init__(
        self,
        store: Store,
        *,
        media: AgentMedia | None = None,
        node: str | None = None,
        clock: Callable[[], float] = time.time,
        disconnect_grace: float = 30.0,
        resync_every: float = 5.0,
        voicemail_dir: Path | None = None,
        screen_pop: ScreenPopHook | None = crm_screen_pop,
    ) -> None:
        self.store = store
        self.rows = RoutingStore(store.pool)
        self.media: AgentMedia = media or NullAgentMedia()
        self.node = node or f"node-{uuid.uuid4().hex[:8]}"
        self.clock = clock
        self.disconnect_grace = disconnect_grace
        self.resync_every = resync_every
        self.voicemail_dir = voicemail_dir or Path("var/voicemail")
        self.screen_pop: ScreenPopHook | None = screen_pop
        self.wrap_up_hooks: list[WrapUpHook] = []
        self.acd = Acd(new_offer_id=lambda: uuid.uuid4().hex)
        self.sessions: dict[str, AgentSession] = {}
        self._waiters: dict[str, Waiter] = {}
        self._talks: dict[str, _Talk] = {}
        self._ringing: dict[str, Event] = {}
        self._last: dict[str, _Last] = {}
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._listener: Any = None
        self._music: Any = None
        self.lost_reservations = 0  # offers another process won first (contention figure)

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the queues, drop this node's leftovers, listen for the others, run timers."""
        await self.rows.forget_node(self.node, self.clock())
        await self.rows.heartbeat(self.node, self.clock())
        await self.reload_queues()
        self._music = await holding.hold_music()
        self._listener = await self.store.pool.acquire()
        await self._listener.add_listener(CHANNEL, self._on_notify)
        self._spawn(self._timer_loop(), "routing-timers")

    async def stop(self) -> None:
        """Stop the timers and the listener; sessions end (agents go offline)."""
        for username in list(self.sessions):
            with contextlib.suppress(AgentError, RoutingError):
                await self.sign_out(username)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.remove_listener(CHANNEL, self._on_notify)
            await self.store.pool.release(self._listener)
            self._listener = None

    async def reload_queues(self) -> None:
        for config in await self.rows.queues():
            self.acd.set_queue(config)

    async def save_queue(self, config: QueueConfig) -> None:
        """Create or change a queue (stored, then live in this process)."""
        await self.rows.save_queue(config)
        self.acd.set_queue(config)

    def queues(self) -> list[str]:
        return sorted(self.acd.queues)

    def metrics(self) -> dict[str, Any]:
        """Live figures: per queue and per agent (see `Acd.queue_figures`)."""
        now = self.clock()
        return {"queues": self.acd.queue_figures(now), "agents": self.acd.agent_figures(now)}

    def agent_info(self, username: str) -> dict[str, Any] | None:
        agent = self.acd.agents.get(username)
        if agent is None:
            return None
        return {
            "username": username,
            "skills": dict(agent.skills),
            "languages": sorted(agent.languages),
        }

    # -- Contract C: callers --------------------------------------------------------------

    async def enqueue(self, call: Call, request: QueueRequest) -> QueueOutcome:
        """Hold the caller until they leave the queue (see `routing.contract`)."""
        config = self.acd.queues.get(request.queue)
        if config is None:
            return QueueOutcome("timeout", request.queue, detail={"error": "no such queue"})
        waiter = Waiter(call, request, asyncio.get_running_loop().create_future())
        async with self._lock:
            now = self.clock()
            entry = self.acd.enqueue(
                call.call_id,
                request.queue,
                now=now,
                skills=request.skills,
                priority=request.priority,
                language=request.language,
                context=request.context,
                caller=call.caller,
            )
            self._waiters[call.call_id] = waiter
            await self.rows.add_waiting(entry, self.node)
            await self._apply(self.acd.route(now))
        call.record_event({"type": "queue", "queue": request.queue, "priority": request.priority})
        self._hold(waiter, config)
        try:
            outcome = await self._wait(waiter)
        finally:
            self._unhold(waiter)
            self._waiters.pop(call.call_id, None)
        return await self._finish(waiter, outcome)

    async def _wait(self, waiter: Waiter) -> QueueOutcome:
        ended: asyncio.Future[Any] = asyncio.ensure_future(waiter.call.ended.wait())
        pending: set[asyncio.Future[Any]] = {waiter.done, ended}
        try:
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()
        if not waiter.done.done() and waiter.agent is None:
            async with self._lock:
                now = self.clock()
                wait = self.acd.abandon(waiter.call.call_id, now)
                await self.rows.remove_waiting(waiter.call.call_id)
                await self._apply(self.acd.route(now))
            if not waiter.done.done():
                queue = waiter.request.queue
                outcome = (
                    QueueOutcome("abandoned", queue, wait)
                    if wait is not None
                    else QueueOutcome("timeout", queue)
                )
                waiter.done.set_result(outcome)
        return await waiter.done  # an answered call: resolved when the agent side ends

    async def _finish(self, waiter: Waiter, outcome: QueueOutcome) -> QueueOutcome:
        call = waiter.call
        call.record_event(
            {
                "type": "queue_left",
                "queue": outcome.queue,
                "outcome": outcome.kind,
                "agent": outcome.agent,
                "wait": round(outcome.wait_seconds, 3),
            }
        )
        language = self.acd.queues[waiter.request.queue].language
        if outcome.kind == "voicemail" and not call.ended.is_set():
            path = await holding.take_voicemail(call, self.voicemail_dir, language)
            if path is not None:
                call.record_event({"type": "voicemail", "file": str(path)})
                outcome = QueueOutcome(**{**outcome.__dict__, "detail": {"file": str(path)}})
        elif outcome.kind == "callback" and not call.ended.is_set():
            await call.say(
                "Thank you. We will call you back, and you keep your place in line.",
                language=language,
            )
        return outcome

    def _hold(self, waiter: Waiter, config: QueueConfig) -> None:
        """Music and announcements while the caller waits (not while talking)."""
        call = waiter.call
        if waiter.agent is not None:
            return
        call.background = holding.music_player(self._music) if self._music is not None else None
        waiter.announcer = self._spawn(
            holding.announce_loop(
                call,
                config.announce_every,
                lambda: self._announcement(waiter),
                language=config.language,
                first_after=min(5.0, config.announce_every),
            ),
            f"announce-{call.call_id}",
        )

    def _unhold(self, waiter: Waiter) -> None:
        if waiter.announcer is not None:
            waiter.announcer.cancel()
            waiter.announcer = None
        waiter.call.stop_playback()
        waiter.call.background = None

    def _announcement(self, waiter: Waiter) -> str | None:
        call_id = waiter.call.call_id
        entry = self.acd.calls.get(call_id)
        if entry is None or entry.offer_id is not None or waiter.agent is not None:
            return None  # ringing or talking: no announcement over it
        language = self.acd.queues[entry.queue].language
        position, ewt = self.acd.position(call_id), self.acd.estimated_wait(call_id)
        waiter.call.record_event(
            {"type": "queue_position", "position": position, "estimated_wait": round(ewt)}
        )
        return holding.announcement(position, ewt, language)

    # -- the agent side (routing.agents.SessionBackend) ------------------------------------

    async def sign_in(self, username: str) -> AgentSession:
        """The agent's session in this process (the same one again on reconnect)."""
        row = await self.rows.agent(username)
        if row is None:
            user = await self.store.users.get(username)
            if user is None or user.role not in AGENT_ROLES:
                raise AgentError(f"{username} is not an agent account")
            await self.rows.save_agent(username, {}, ["en"])
            row = await self.rows.agent(username)
            assert row is not None
        async with self._lock:
            now = self.clock()
            known = self.acd.agents.get(username)
            if known is None or known.state is AgentState.OFFLINE:
                if row.state is AgentState.OFFLINE or row.node in (None, self.node):
                    self.acd.sign_in(username, row.skills, row.languages, now)
                else:
                    self.acd.adopt(
                        username, row.skills, row.languages, row.state, row.since, row.reason, now
                    )
            self.acd.reconnect(username)
            session = self.sessions.get(username)
            if session is None:
                session = self.sessions[username] = AgentSession(self, username)
            await self._apply(self.acd.route(now))
        return session

    def snapshot(self, username: str) -> Event:
        agent = self.acd.agents.get(username)
        talk = self._talks.get(username)
        if agent is None:
            return {
                "type": "state",
                "state": "offline",
                "reason": None,
                "since": None,
                "wrap_up_until": None,
                "offer": None,
                "call": None,
                "held": False,
            }
        return {
            "type": "state",
            "state": str(agent.state),
            "reason": agent.reason,
            "since": agent.since,
            "wrap_up_until": agent.wrap_up_until,
            "offer": self._ringing.get(username),
            "call": None if talk is None else {**talk.offer, "since": talk.since},
            "held": bool(talk and talk.held),
        }

    async def set_ready(self, username: str) -> None:
        await self._command(username, lambda now: self.acd.set_ready(username, now))

    async def set_not_ready(self, username: str, reason: str) -> None:
        await self._command(username, lambda now: self.acd.set_not_ready(username, reason, now))

    async def sign_out(self, username: str) -> None:
        await self._command(username, lambda now: self.acd.sign_out(username, now))
        session = self.sessions.pop(username, None)
        if session is not None:
            session.close()

    def session_disconnected(self, username: str) -> None:
        if username in self.acd.agents:
            self.acd.disconnect(username, self.clock(), self.disconnect_grace)
            self._wake.set()

    def session_reconnected(self, username: str) -> None:
        self.acd.reconnect(username)

    async def answer(self, username: str, offer_id: str) -> None:
        async with self._lock:
            ring = self._ringing.get(username)
            if ring is None or ring["offer_id"] != offer_id:
                raise AgentError("that call is no longer ringing for you")
            now = self.clock()
            try:
                entry = self.acd.answer(offer_id, now)
            except RoutingError as exc:
                raise AgentError(str(exc)) from None
            del self._ringing[username]
            await self.rows.end_reservation(offer_id, "answered", now)
            await self.rows.remove_waiting(entry.call_id)
            waiter = self._waiters.get(entry.call_id)
            talk = _Talk(
                username, entry.call_id, entry.queue, waiter.call if waiter else None, ring, now
            )
            self._talks[username] = talk
            self._last[username] = _Last(
                entry.call_id,
                entry.queue,
                {"context": entry.context, "wait_seconds": now - entry.enqueued_at},
            )
            if waiter is not None:
                waiter.agent, waiter.offer_id = username, None
                waiter.wait_seconds = now - entry.enqueued_at
                self._unhold(waiter)
            await self._apply(self.acd.route(now))
        if talk.call is not None:
            talk.call.record_event(
                {"type": "agent_connected", "agent": username, "queue": entry.queue}
            )
            try:
                talk.handle = await self.media.connect(username, talk.call)
            except Exception:
                log.exception("media connect failed for %s", username)
            talk.watcher = self._spawn(self._watch(talk), f"talk-{username}")
        self._publish(
            username,
            {
                "type": "connected",
                "offer_id": offer_id,
                "call": ring["call"],
                "queue": entry.queue,
                "since": now,
            },
        )

    async def _watch(self, talk: _Talk) -> None:
        assert talk.call is not None
        await talk.call.ended.wait()
        if self._talks.get(talk.username) is talk:
            await self._end_talk(talk, "caller_hangup")

    async def hangup(self, username: str) -> None:
        await self._end_talk(self._talk(username), "agent_hangup")

    async def hold(self, username: str, on: bool) -> None:
        talk = self._talk(username)
        if talk.held == on:
            return
        if talk.handle is not None:
            await self.media.hold(talk.handle, on)
        call = talk.call
        if call is not None and on:
            talk.saved_background = call.background
            if self._music is not None:
                call.background = holding.music_player(self._music)
        elif call is not None:
            call.background = talk.saved_background
        talk.held = on
        self._publish(username, {"type": "held", "on": on})

    def send_dtmf(self, username: str, digits: str) -> None:
        talk = self._talk(username)
        if talk.call is None:
            raise AgentError("a callback has no caller line to send digits to")
        try:
            talk.call.send_dtmf(digits)
        except ValueError as exc:
            raise AgentError(str(exc)) from None

    async def transfer(self, username: str, target: str) -> None:
        """Blind transfer to a queue or an agent; the caller waits again (with music)."""
        talk = self._talk(username)
        kind, _, name = target.partition(":") if ":" in target else ("", "", target)
        if kind not in ("", "queue", "agent"):
            raise AgentError(f"unknown transfer target {target!r}")
        is_queue = kind == "queue" or (kind == "" and name in self.acd.queues)
        if is_queue and name not in self.acd.queues:
            raise AgentError(f"no queue called {name!r}")
        if not is_queue and (name not in self.acd.agents or name == username):
            raise AgentError(f"no other agent called {name!r} is signed in")
        waiter = self._waiters.get(talk.call_id)
        if talk.call is None or waiter is None:
            raise AgentError("only a live caller can be transferred")
        await self._end_talk(talk, "transferred")
        async with self._lock:
            now = self.clock()
            request = waiter.request
            entry = self.acd.enqueue(
                talk.call_id,
                name if is_queue else talk.queue,
                now=now,
                skills=request.skills,
                priority=request.priority,
                language=request.language,
                context=request.context,
                caller=talk.call.caller,
                target_agent=None if is_queue else name,
                transferred_from=username,
            )
            waiter.agent = None
            await self.rows.add_waiting(entry, self.node)
            talk.call.record_event({"type": "transfer", "from": username, "to": target})
            self._hold(waiter, self.acd.queues[entry.queue])
            await self._apply(self.acd.route(now))

    async def wrap_up_done(
        self, username: str, disposition: str, notes: str, resolved: bool
    ) -> None:
        last = self._last.pop(username, None)
        agent = self.acd.agents.get(username)
        if agent is not None and agent.state is AgentState.WRAP_UP:
            await self._command(username, lambda now: self.acd.wrap_up_done(username, now))
        elif last is None:
            raise AgentError("there is no call to wrap up")
        last = last or _Last()  # the timed wrap-up may have ended: the form still counts
        now = self.clock()
        await self.rows.save_wrap_up(
            last.call_id, username, last.queue, disposition, notes, resolved, now
        )
        record = {
            "call_id": last.call_id,
            "agent": username,
            "queue": last.queue,
            "disposition": disposition,
            "notes": notes,
            "resolved": resolved,
            "at": now,
            **last.extra,
        }
        for hook in self.wrap_up_hooks:
            try:
                result = hook(record)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception("wrap-up hook failed for %s", last.call_id)

    # -- internals: talks ------------------------------------------------------------------

    def _talk(self, username: str) -> _Talk:
        talk = self._talks.get(username)
        if talk is None:
            raise AgentError("you are not on a call")
        return talk

    async def _end_talk(self, talk: _Talk, reason: str) -> None:
        if self._talks.get(talk.username) is not talk:
            return
        del self._talks[talk.username]
        if talk.watcher is not None and talk.watcher is not asyncio.current_task():
            talk.watcher.cancel()
        if talk.handle is not None:
            with contextlib.suppress(Exception):
                await self.media.disconnect(talk.handle)
        if talk.call is not None and talk.held:
            talk.call.background = None
        async with self._lock:
            now = self.clock()
            talk_seconds = self.acd.end_call(talk.username, now)
            await self._apply(self.acd.route(now))
        last = self._last.get(talk.username)
        if last is not None and last.call_id == talk.call_id:
            last.extra["talk_seconds"] = talk_seconds
        agent = self.acd.agents[talk.username]
        self._publish(talk.username, {"type": "ended", "call_id": talk.call_id, "reason": reason})
        if agent.state is AgentState.WRAP_UP:
            self._publish(
                talk.username,
                {"type": "wrap_up", "call_id": talk.call_id, "until": agent.wrap_up_until},
            )
        waiter = self._waiters.get(talk.call_id)
        if talk.call is not None:
            talk.call.record_event(
                {
                    "type": "agent_ended",
                    "agent": talk.username,
                    "reason": reason,
                    "talk": round(talk_seconds, 3),
                }
            )
        if waiter is not None and reason != "transferred" and not waiter.done.done():
            waiter.done.set_result(
                QueueOutcome(
                    "answered",
                    talk.queue,
                    waiter.wait_seconds,
                    talk.username,
                    talk_seconds,
                    detail={"ended_by": reason},
                )
            )

    # -- internals: applying the router's events --------------------------------------------

    async def _command(self, username: str, mutate: Callable[[float], None]) -> None:
        async with self._lock:
            now = self.clock()
            try:
                mutate(now)
            except RoutingError as exc:
                raise AgentError(str(exc)) from None
            await self._apply(self.acd.route(now))

    # -- internals: timers and the other processes --------------------------------------------

    def _spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _timer_loop(self) -> None:
        next_resync = self.clock() + self.resync_every
        while True:
            deadline = self.acd.next_timer()
            until = next_resync if deadline is None else min(deadline, next_resync)
            self._wake.clear()
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancel that lands
            # as the wake-up fires (stop() signs agents out, which wakes us), and stop hangs
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, until - self.clock())):
                    await self._wake.wait()
            try:
                async with self._lock:
                    await self._apply(self.acd.handle_timer(self.clock()))
                if self.clock() >= next_resync:
                    next_resync = self.clock() + self.resync_every
                    await self._resync()
            except Exception:  # a database hiccup must not stop the timers
                log.exception("routing timers")
                await asyncio.sleep(1.0)

    async def _resync(self) -> None:
        """Catch up with the other processes: stale reservations, agents' states."""
        now = self.clock()
        await self.rows.heartbeat(self.node, now)
        released = await self.rows.expire_stale(now, slack=10.0)
        released += await self.rows.release_lost_nodes(
            now, silent_for=NODE_SILENCE * self.resync_every
        )
        names = [name for name in self.acd.agents if name in released or self._mirrored(name)]
        if names:
            await self._refresh(names)

    def _mirrored(self, username: str) -> bool:
        agent = self.acd.agents[username]
        return agent.remote or (agent.offer_id is None and agent.call_id is None)

    def _on_notify(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        node, _, username = payload.partition(" ")
        if node != self.node and username in self.acd.agents:
            self._spawn(self._refresh([username]), f"refresh-{username}")

    async def _refresh(self, usernames: list[str]) -> None:
        async with self._lock:
            now = self.clock()
            for row in await self.rows.agents(usernames):
                if row.node != self.node or row.state is not self.acd.agents[row.username].state:
                    self.acd.sync_agent(row.username, row.state, row.since, row.reason, now)
            await self._apply(self.acd.route(now))
