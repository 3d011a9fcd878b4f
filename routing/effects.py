"""How the router's events become effects: reservations and rows, offers and states on the
desktops, the caller's record and outcome.  `routing.service.RoutingService` inherits it.

`EventCarrier._apply` runs under the service's lock: it carries out every event, then routes
again (an offer lost to another process frees the call for the next agent) until the router
has nothing more to say.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from media.call import Call
from routing.acd import Acd
from routing.agents import AgentSession, Event
from routing.contract import QueueOutcome, QueueRequest
from routing.crm import ScreenPopHook
from routing.events import (
    AgentStateChanged,
    CallOverflowed,
    MaxWaitReached,
    OfferCancelled,
    OfferMade,
    RouterEvent,
)
from routing.model import AgentState
from routing.store import RoutingStore

log = logging.getLogger(__name__)

MAX_LOST_RESERVATIONS = 20  # per routing pass; the rest waits for the next wake-up


@dataclass(eq=False)
class Waiter:
    """A live caller inside `enqueue`."""

    call: Call
    request: QueueRequest
    done: asyncio.Future[QueueOutcome]
    offer_id: str | None = None
    agent: str | None = None
    wait_seconds: float = 0.0
    announcer: asyncio.Task[None] | None = None


class EventCarrier:
    """The event side of `RoutingService` (its state is declared here, set up there)."""

    acd: Acd
    rows: RoutingStore
    node: str
    clock: Callable[[], float]
    sessions: dict[str, AgentSession]
    screen_pop: ScreenPopHook | None
    lost_reservations: int
    _waiters: dict[str, Waiter]
    _ringing: dict[str, Event]
    _wake: asyncio.Event

    def snapshot(self, username: str) -> Event:
        raise NotImplementedError

    async def _apply(self, events: list[RouterEvent]) -> None:
        """Carry out ``events`` (rows, offers, prompts) and whatever routing follows."""
        lost = 0
        while events:
            for event in events:
                if isinstance(event, OfferMade):
                    lost += not await self._ring(event, lost >= MAX_LOST_RESERVATIONS)
                elif isinstance(event, OfferCancelled):
                    await self._cancelled(event)
                elif isinstance(event, AgentStateChanged):
                    await self._state_changed(event)
                elif isinstance(event, CallOverflowed):
                    await self._overflowed(event)
                else:
                    await self._max_wait(event)
            events = self.acd.route(self.clock())
        self._wake.set()  # the next timer may be earlier now

    async def _ring(self, event: OfferMade, give_up: bool) -> bool:
        offer, now = event.offer, self.clock()
        ok = not give_up and await self.rows.reserve(
            offer.offer_id,
            offer.call_id,
            offer.username,
            offer.queue,
            self.node,
            now,
            offer.expires_at,
        )
        if not ok:
            self.lost_reservations += 1
            self.acd.reservation_failed(offer.offer_id)
            if give_up:
                return False
            row = await self.rows.agent(offer.username)
            if row is not None:
                self.acd.sync_agent(row.username, row.state, row.since, row.reason, now)
            entry = self.acd.calls.get(offer.call_id)
            if entry is not None and not await self.rows.has_waiting(offer.call_id):
                await self.rows.add_waiting(entry, self.node)  # lost its row: our caller
            return False
        entry = self.acd.calls[offer.call_id]
        waiter = self._waiters.get(offer.call_id)
        ring: Event = {
            "type": "offer",
            "offer_id": offer.offer_id,
            "call": {
                "call_id": offer.call_id,
                "caller": entry.caller,
                "called": waiter.call.called if waiter else None,
            },
            "queue": offer.queue,
            "wait_seconds": round(offer.wait_seconds, 3),
            "expires_at": offer.expires_at,
            "context": entry.context,
            "callback": offer.kind == "callback",
            "transferred_from": entry.transferred_from,
            "screen_pop": None,
        }
        if waiter is not None:
            waiter.offer_id = offer.offer_id
            waiter.call.record_event(
                {"type": "offer", "agent": offer.username, "offer_id": offer.offer_id}
            )
            ring["screen_pop"] = self._build_screen_pop(
                waiter, offer.offer_id, offer.username, offer.wait_seconds
            )
        self._ringing[offer.username] = ring
        self._publish_state(offer.username)
        self._publish(offer.username, ring)
        return True

    def _build_screen_pop(
        self, waiter: Waiter, offer_id: str, username: str, wait: float
    ) -> dict[str, Any] | None:
        if self.screen_pop is None:
            return None

        def update(pop: dict[str, Any]) -> None:
            ring = self._ringing.get(username)
            if ring is not None and ring["offer_id"] == offer_id:
                ring["screen_pop"] = pop
            self._publish(username, {"type": "screen_pop", "offer_id": offer_id, "screen_pop": pop})

        try:
            pop: dict[str, Any] | None = self.screen_pop(waiter.call, waiter.request, wait, update)
            return pop
        except Exception:  # a screen-pop must never stop an offer
            log.exception("screen-pop failed for %s", waiter.call.call_id)
            return None

    async def _cancelled(self, event: OfferCancelled) -> None:
        now = self.clock()
        await self.rows.end_reservation(event.offer_id, event.reason, now)
        entry = self.acd.calls.get(event.call_id)
        if entry is not None:
            await self.rows.update_waiting(entry)
        ring = self._ringing.get(event.username)
        if ring is not None and ring["offer_id"] == event.offer_id:
            del self._ringing[event.username]
        waiter = self._waiters.get(event.call_id)
        if waiter is not None and waiter.offer_id == event.offer_id:
            waiter.offer_id = None
            waiter.call.record_event(
                {"type": "offer_cancelled", "agent": event.username, "reason": event.reason}
            )
        self._publish(
            event.username,
            {"type": "offer_cancelled", "offer_id": event.offer_id, "reason": event.reason},
        )

    async def _state_changed(self, event: AgentStateChanged) -> None:
        if event.state is AgentState.RESERVED and not event.remote:
            return  # written by the reservation itself; published with the offer
        if not event.remote:
            agent = self.acd.agents[event.username]
            await self.rows.record_state(
                event.username,
                event.state,
                event.reason,
                event.at,
                self.node,
                call_id=agent.call_id,
                wrap_up_until=event.wrap_up_until,
            )
        self._publish_state(event.username)

    async def _overflowed(self, event: CallOverflowed) -> None:
        entry = self.acd.calls.get(event.call_id)
        if entry is not None:
            await self.rows.update_waiting(entry)
        waiter = self._waiters.get(event.call_id)
        if waiter is not None:
            waiter.call.record_event(
                {
                    "type": "overflow",
                    "from": event.from_queue,
                    "to": event.to_queue,
                    "skills": event.skills,
                }
            )

    async def _max_wait(self, event: MaxWaitReached) -> None:
        entry = self.acd.calls.get(event.call_id)
        if entry is not None:  # a callback keeps its row and its place
            await self.rows.update_waiting(entry)
        else:
            await self.rows.remove_waiting(event.call_id)
        waiter = self._waiters.get(event.call_id)
        if waiter is not None and not waiter.done.done():
            waiter.done.set_result(QueueOutcome(event.action, event.queue, event.wait_seconds))

    def _publish(self, username: str, event: Event) -> None:
        session = self.sessions.get(username)
        if session is not None:
            session.publish(event)

    def _publish_state(self, username: str) -> None:
        self._publish(username, self.snapshot(username))
