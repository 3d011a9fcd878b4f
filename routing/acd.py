"""The sans-IO router: agents, queues and waiting calls in memory; every decision takes ``now``.

    acd = Acd()
    acd.set_queue(QueueConfig("orders", skills={"orders": 2}))
    acd.sign_in("agent1", {"orders": 3}, {"en"}, now)
    acd.set_ready("agent1", now)
    acd.enqueue("call-1", "orders", now=now)
    for event in acd.route(now): ...            # OfferMade, AgentStateChanged, ...
    acd.answer(offer_id, now); acd.end_call("agent1", now); acd.wrap_up_done("agent1", now)
    events = acd.handle_timer(now)              # at acd.next_timer(): RONA, wrap-up end, overflow

Mutators only record; `route` matches available agents with waiting calls and returns every
event since the last call.  The invariant after `route`: no available agent fits a waiting
call.  Indexes keep a decision cheap with thousands of agents and calls:

- waiting calls sit in *buckets* keyed by (queue, language, required skills, target agent),
  each a heap ordered by (-priority, arrival sequence) with lazy deletion; an agent becoming
  available looks at each bucket's head only (buckets are few: queues x languages x skill sets);
- available agents are indexed by language and by skill; a new call starts from the smallest
  of the sets its requirement names, then the queue's strategy picks among those that fit.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable
from typing import Any

from routing import strategies
from routing.events import (
    AgentStateChanged,
    CallOverflowed,
    MaxWaitReached,
    OfferCancelled,
    OfferMade,
    RouterEvent,
)
from routing.metrics import QueueCounters
from routing.model import (
    BUSY_STATES,
    TRANSITIONS,
    Agent,
    AgentState,
    BucketKey,
    Offer,
    QueueConfig,
    RoutingError,
    Waiting,
)

MAX_OVERFLOW_HOPS = 3
_S = AgentState
_HeapItem = tuple[int, int, int, str]  # (-priority, seq, version, call_id)


def merge_skills(*requirements: dict[str, int]) -> dict[str, int]:
    """The union of requirements, keeping the highest minimum level of each skill."""
    merged: dict[str, int] = {}
    for requirement in requirements:
        for skill, level in requirement.items():
            merged[skill] = max(level, merged.get(skill, 0))
    return merged


class Acd:
    """Queues, agents, waiting calls and the matching between them (see the module docstring)."""

    def __init__(self, new_offer_id: Callable[[], str] | None = None) -> None:
        counter = itertools.count(1)
        self._new_offer_id = new_offer_id or (lambda: f"offer-{next(counter)}")
        self.queues: dict[str, QueueConfig] = {}
        self.agents: dict[str, Agent] = {}
        self.calls: dict[str, Waiting] = {}  # waiting or ringing
        self.offers: dict[str, Offer] = {}
        self.counters: dict[str, QueueCounters] = {}
        self._buckets: dict[BucketKey, list[_HeapItem]] = {}
        self._bucket_live: dict[BucketKey, int] = {}
        self._fit_cache: dict[tuple[str, BucketKey], bool] = {}
        self._available: set[str] = set()
        self._by_language: dict[str, set[str]] = {}
        self._by_skill: dict[str, set[str]] = {}
        self._timers: list[tuple[float, int, str, str, Any]] = []
        self._timer_seq = itertools.count()
        self._grace: dict[str, float] = {}
        self._dirty_calls: list[str] = []
        self._dirty_agents: list[str] = []
        self._events: list[RouterEvent] = []
        self._next_seq = 1
        self._offer_count = 0

    # -- configuration ---------------------------------------------------------------------

    def set_queue(self, config: QueueConfig) -> None:
        """Add or replace a queue definition (its strategy must be registered)."""
        strategies.get(config.strategy)
        self.queues[config.name] = config
        counters = self.counters.setdefault(config.name, QueueCounters())
        counters.sl_seconds = config.sl_seconds

    def sign_in(
        self,
        username: str,
        skills: dict[str, int],
        languages: Iterable[str],
        now: float,
        *,
        ready: bool = False,
    ) -> Agent:
        """Create or refresh an agent (skills and languages); offline agents come in not ready."""
        agent = self.agents.get(username)
        if agent is None:
            agent = self.agents[username] = Agent(username, dict(skills), frozenset(languages))
        elif agent.skills != skills or agent.languages != frozenset(languages):
            self._unindex(agent)
            agent.skills, agent.languages = dict(skills), frozenset(languages)
            self._fit_cache.clear()
            if agent.state is _S.AVAILABLE:
                self._index(agent)
        if agent.state is _S.OFFLINE:
            agent.signed_in_at, agent.busy_seconds = now, 0.0
            self._set_state(agent, _S.AVAILABLE if ready else _S.NOT_READY, now, "signed_in")
        return agent

    def adopt(
        self,
        username: str,
        skills: dict[str, int],
        languages: Iterable[str],
        state: AgentState,
        since: float,
        reason: str | None,
        now: float,
    ) -> Agent:
        """Know an agent whose state another process owns (signed in there first)."""
        agent = self.agents.get(username)
        if agent is None:
            agent = self.agents[username] = Agent(username, dict(skills), frozenset(languages))
            agent.signed_in_at = now
        agent.remote = True
        self.sync_agent(username, state, since, reason, now)
        return agent

    # -- agent commands ---------------------------------------------------------------------

    def set_ready(self, username: str, now: float) -> None:
        """Available (from not ready, or ending the wrap-up early)."""
        agent = self._agent(username)
        if agent.state is _S.WRAP_UP:
            agent.pending_reason = None
            self._finish_wrap_up(agent, now)
        elif agent.state in (_S.NOT_READY, _S.OFFLINE):
            self._set_state(agent, _S.AVAILABLE, now)
        elif agent.state is not _S.AVAILABLE:
            raise RoutingError(f"{username} is {agent.state}; cannot become ready now")

    def set_not_ready(self, username: str, reason: str, now: float) -> None:
        """Not ready; a ringing offer goes back to the queue, a call finishes first."""
        agent = self._agent(username)
        if agent.state in (_S.ON_CALL, _S.WRAP_UP):
            agent.pending_reason = reason
            return
        if agent.state is _S.RESERVED and agent.offer_id is not None:
            self._withdraw(agent.offer_id, now, "declined", requeue=True)
        self._set_state(agent, _S.NOT_READY, now, reason)

    def sign_out(self, username: str, now: float) -> None:
        """Offline (refused during a call: the call must end first)."""
        agent = self._agent(username)
        if agent.state is _S.ON_CALL:
            raise RoutingError(f"{username} is on a call; hang up first")
        if agent.state is _S.RESERVED and agent.offer_id is not None:
            self._withdraw(agent.offer_id, now, "signed_out", requeue=True)
        if agent.state is _S.WRAP_UP:
            self._close_handle(agent, now)
        agent.pending_reason = None
        self._grace.pop(username, None)
        if agent.state is not _S.OFFLINE:
            self._set_state(agent, _S.OFFLINE, now)

    def answer(self, offer_id: str, now: float) -> Waiting:
        """The agent took the call: on call; returns the caller's entry (out of the queue)."""
        offer = self.offers.pop(offer_id, None)
        if offer is None:
            raise RoutingError(f"offer {offer_id} is no longer ringing")
        call = self.calls.pop(offer.call_id)
        agent = self.agents[offer.username]
        wait = now - call.enqueued_at
        self.counters[call.queue].on_answer(wait)
        agent.offer_id, agent.answered_at = None, now
        self._set_state(agent, _S.ON_CALL, now)
        return call

    def end_call(self, username: str, now: float) -> float:
        """The call is over (either side hung up): wrap-up starts; returns the talk time."""
        agent = self._agent(username)
        if agent.state is not _S.ON_CALL:
            raise RoutingError(f"{username} is {agent.state}, not on a call")
        talk = now - (agent.answered_at or now)
        wrap = self.queues[agent.queue].wrap_up if agent.queue in self.queues else 0.0
        agent.wrap_up_until = now + wrap
        self._set_state(agent, _S.WRAP_UP, now)
        self._push_timer(agent.wrap_up_until, "wrap_up", username, agent.since)
        if wrap <= 0:
            self._finish_wrap_up(agent, now)
        return talk

    def wrap_up_done(self, username: str, now: float) -> None:
        """The wrap-up form was sent: available (or not ready, if asked during the call)."""
        agent = self._agent(username)
        if agent.state is not _S.WRAP_UP:
            raise RoutingError(f"{username} is {agent.state}, not in wrap-up")
        self._finish_wrap_up(agent, now)

    def disconnect(self, username: str, now: float, grace: float) -> None:
        """The desktop went away: not ready after ``grace`` seconds unless it reconnects."""
        self._agent(username)
        self._grace[username] = now + grace
        self._push_timer(now + grace, "grace", username, now + grace)

    def reconnect(self, username: str) -> None:
        self._grace.pop(username, None)

    # -- calls ----------------------------------------------------------------------------

    def enqueue(
        self,
        call_id: str,
        queue: str,
        *,
        now: float,
        skills: dict[str, int] | None = None,
        priority: int = 0,
        language: str = "en",
        context: dict[str, Any] | None = None,
        caller: str = "",
        target_agent: str | None = None,
        kind: str = "live",
        seq: int | None = None,
        enqueued_at: float | None = None,
        transferred_from: str | None = None,
    ) -> Waiting:
        """Put a call in line (``seq``/``enqueued_at`` restore a stored place)."""
        config = self.queues.get(queue)
        if config is None:
            raise RoutingError(f"no queue called {queue!r}")
        if call_id in self.calls:
            raise RoutingError(f"call {call_id} is already queued")
        extra = dict(skills or {})
        if seq is None:
            seq = self._next_seq
        self._next_seq = max(self._next_seq, seq + 1)
        entry = Waiting(
            call_id, queue, {} if target_agent else merge_skills(config.skills, extra),
            language, priority, now if enqueued_at is None else enqueued_at, now, seq,
            request_skills=extra, target_agent=target_agent,
            kind="callback" if kind == "callback" else "live", context=dict(context or {}),
            caller=caller, transferred_from=transferred_from,
        )  # fmt: skip
        self.calls[call_id] = entry
        self._push(entry)
        self._arm_queue_timers(entry, config)
        return entry

    def abandon(self, call_id: str, now: float) -> float | None:
        """The caller left (hung up); returns how long they waited, None if not queued."""
        entry = self.calls.get(call_id)
        if entry is None:
            return None
        if entry.offer_id is not None:
            self._withdraw(entry.offer_id, now, "abandoned", requeue=False)
        self._remove(entry)
        wait = now - entry.enqueued_at
        if entry.kind == "live":
            self.counters[entry.queue].on_abandon(wait)
        return wait

    def reservation_failed(self, offer_id: str) -> None:
        """Another process got the agent (or call) first: undo the offer, no penalty.

        The call keeps its place; the agent stays out of routing until `sync_agent` tells
        what the database says.
        """
        offer = self.offers.pop(offer_id, None)
        if offer is None:
            return
        agent = self.agents[offer.username]
        agent.offer_id = agent.call_id = agent.queue = None
        agent.remote = True
        entry = self.calls.get(offer.call_id)
        if entry is not None:
            entry.offer_id = None
            self._push(entry)

    def sync_agent(
        self, username: str, state: AgentState, since: float, reason: str | None, now: float
    ) -> None:
        """Mirror a state another server process wrote (its reservation, its call)."""
        agent = self.agents.get(username)
        if agent is None or ((agent.offer_id or agent.call_id) and not agent.remote):
            return  # unknown here, or our own offer/call: we are the authority
        if agent.state is state and agent.since == since:
            return
        self._unindex(agent)
        was_available = agent.state is _S.AVAILABLE
        agent.state, agent.since, agent.reason = state, since, reason
        agent.remote = state in BUSY_STATES
        if state is _S.AVAILABLE:
            if not was_available:
                agent.idle_since = since
            self._index(agent)
            self._dirty_agents.append(username)
        self._events.append(AgentStateChanged(username, state, reason, since, remote=True))

    # -- matching ------------------------------------------------------------------------

    def route(self, now: float) -> list[RouterEvent]:
        """Offer waiting calls to available agents; returns every event since the last call."""
        # Agents first: they take the best waiting calls, old ones included; a new call then
        # only meets agents who fit no older call.
        while self._dirty_agents:
            agent = self.agents[self._dirty_agents.pop()]
            while agent.state is _S.AVAILABLE:
                found = self._best_call_for(agent)
                if found is None:
                    break
                chosen = self._pick_agent(found, now) or agent
                self._offer(found, chosen, now)
        if self._dirty_calls:
            fresh = {c.call_id: c for i in self._dirty_calls if (c := self.calls.get(i))}
            self._dirty_calls.clear()
            for entry in sorted(fresh.values(), key=Waiting.sort_key):
                if not self._available:
                    break
                if entry.offer_id is None:
                    picked = self._pick_agent(entry, now)
                    if picked is not None:
                        self._offer(entry, picked, now)
        events, self._events = self._events, []
        return events

    def _pick_agent(self, entry: Waiting, now: float) -> Agent | None:
        if entry.target_agent is not None:
            agent = self.agents.get(entry.target_agent)
            return agent if agent is not None and agent.state is _S.AVAILABLE else None
        pools = [self._by_language.get(entry.language, set())]
        pools += [self._by_skill.get(skill, set()) for skill in entry.skills]
        smallest = min(pools, key=len)
        agents = self.agents
        candidates = (
            agent
            for username in smallest
            if (agent := agents[username]).fits(entry.skills, entry.language)
        )
        return strategies.select(self.queues[entry.queue].strategy, candidates, entry, now)

    def _best_call_for(self, agent: Agent) -> Waiting | None:
        best: Waiting | None = None
        for key in list(self._buckets):
            if not self._agent_fits_bucket(agent, key):
                continue
            head = self._head(key)
            if head is not None and (best is None or head.sort_key() < best.sort_key()):
                best = head
        return best

    def _agent_fits_bucket(self, agent: Agent, key: BucketKey) -> bool:
        cached = self._fit_cache.get((agent.username, key))
        if cached is None:
            queue, language, skills, target = key
            if target is not None:
                cached = target == agent.username
            else:
                cached = queue in self.queues and agent.fits(dict(skills), language)
            self._fit_cache[(agent.username, key)] = cached
        return cached

    def _offer(self, entry: Waiting, agent: Agent, now: float) -> None:
        config = self.queues[entry.queue]
        offer = Offer(
            self._new_offer_id(), entry.call_id, agent.username, entry.queue,
            now - entry.enqueued_at, now + config.ring_timeout, entry.kind,
        )  # fmt: skip
        self._take_out(entry)
        entry.offer_id = offer.offer_id
        self.offers[offer.offer_id] = offer
        self._offer_count += 1
        agent.last_offer = self._offer_count
        agent.offer_id, agent.call_id, agent.queue = offer.offer_id, entry.call_id, entry.queue
        self._set_state(agent, _S.RESERVED, now)
        self.counters[entry.queue].offered += 1
        self._push_timer(offer.expires_at, "offer", offer.offer_id, None)
        self._events.append(OfferMade(offer))

    def _withdraw(self, offer_id: str, now: float, reason: str, *, requeue: bool) -> None:
        offer = self.offers.pop(offer_id)
        agent = self.agents[offer.username]
        agent.offer_id = agent.call_id = agent.queue = None
        entry = self.calls.get(offer.call_id)
        if entry is not None:
            entry.offer_id = None
            if requeue:
                self._push(entry)  # same seq: back ahead of everyone who came later
                if entry.max_wait_due:
                    self._max_wait(entry, now)
        self._events.append(OfferCancelled(offer_id, offer.call_id, offer.username, reason))
        if not requeue and agent.state is _S.RESERVED:
            idle_since = agent.idle_since  # a caller hanging up costs the agent no place
            self._set_state(agent, _S.AVAILABLE, now)
            agent.idle_since = idle_since

    # -- timers ---------------------------------------------------------------------------

    def next_timer(self) -> float | None:
        """When `handle_timer` should run next (None: no timer)."""
        while self._timers and not self._timer_live(self._timers[0]):
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None

    def handle_timer(self, now: float) -> list[RouterEvent]:
        """Fire what is due (RONA, wrap-up end, overflow, maximum wait, grace), then route."""
        while self._timers and self._timers[0][0] <= now:
            timer = heapq.heappop(self._timers)
            if self._timer_live(timer):
                self._fire(timer, now)
        return self.route(now)

    def _push_timer(self, at: float, kind: str, key: str, token: Any) -> None:
        heapq.heappush(self._timers, (at, next(self._timer_seq), kind, key, token))

    def _timer_live(self, timer: tuple[float, int, str, str, Any]) -> bool:
        _, _, kind, key, token = timer
        if kind == "offer":
            return key in self.offers
        if kind == "wrap_up":
            agent = self.agents.get(key)
            return agent is not None and agent.state is _S.WRAP_UP and agent.since == token
        if kind == "grace":
            return self._grace.get(key) == token
        entry = self.calls.get(key)
        if kind == "overflow":
            return entry is not None and (entry.queue, entry.queued_at) == token
        return entry is not None and entry.kind == "live" and entry.enqueued_at == token

    def _fire(self, timer: tuple[float, int, str, str, Any], now: float) -> None:
        _, _, kind, key, _ = timer
        if kind == "offer":
            self._rona(key, now)
        elif kind == "wrap_up":
            self._finish_wrap_up(self.agents[key], now)
        elif kind == "grace":
            self._grace_over(key, now)
        elif kind == "overflow":
            self._overflow(self.calls[key], now)
        else:
            entry = self.calls[key]
            if entry.offer_id is not None:
                entry.max_wait_due = True  # let it ring; decide if the ring fails
            else:
                self._max_wait(entry, now)

    def _rona(self, offer_id: str, now: float) -> None:
        offer = self.offers[offer_id]
        self.counters[offer.queue].rona += 1
        self._withdraw(offer_id, now, "rona", requeue=True)
        self._set_state(self.agents[offer.username], _S.NOT_READY, now, "rona")

    def _grace_over(self, username: str, now: float) -> None:
        del self._grace[username]
        agent = self.agents[username]
        if agent.state in (_S.ON_CALL, _S.WRAP_UP):
            agent.pending_reason = "disconnected"
        elif agent.state is _S.RESERVED and agent.offer_id is not None:
            self._withdraw(agent.offer_id, now, "disconnected", requeue=True)
            self._set_state(agent, _S.NOT_READY, now, "disconnected")
        elif agent.state is _S.AVAILABLE:
            self._set_state(agent, _S.NOT_READY, now, "disconnected")

    def _overflow(self, entry: Waiting, now: float) -> None:
        if entry.offer_id is not None:  # ringing: try again when the ring is decided
            self._push_timer(self.offers[entry.offer_id].expires_at, "overflow", entry.call_id,
                             (entry.queue, entry.queued_at))  # fmt: skip
            return
        config = self.queues[entry.queue]
        if entry.hops >= MAX_OVERFLOW_HOPS or entry.target_agent is not None:
            return
        target = self.queues.get(config.overflow_queue or "")
        if target is not None:
            skills = merge_skills(target.skills, entry.request_skills)
        elif config.overflow_skills is not None:
            skills = dict(config.overflow_skills)
        else:
            return
        self._take_out(entry)
        from_queue = entry.queue
        entry.hops += 1
        entry.skills = skills
        if target is not None:
            entry.queue, entry.queued_at = target.name, now
            self._arm_queue_timers(entry, target, max_wait=False)
        self._push(entry)
        self.counters[from_queue].overflowed += 1
        self._events.append(CallOverflowed(entry.call_id, from_queue, entry.queue, skills))

    def _max_wait(self, entry: Waiting, now: float) -> None:
        entry.max_wait_due = False
        config = self.queues[entry.queue]
        self.counters[entry.queue].max_wait += 1
        wait = now - entry.enqueued_at
        if config.max_wait_action == "callback":
            entry.kind = "callback"  # same seq: the callback keeps the caller's place
        else:
            self._remove(entry)
        self._events.append(
            MaxWaitReached(entry.call_id, entry.queue, config.max_wait_action, wait)
        )

    def _arm_queue_timers(self, entry: Waiting, config: QueueConfig, max_wait: bool = True) -> None:
        if config.overflow_after is not None and entry.target_agent is None:
            self._push_timer(entry.queued_at + config.overflow_after, "overflow", entry.call_id,
                             (entry.queue, entry.queued_at))  # fmt: skip
        if max_wait and config.max_wait is not None and entry.kind == "live":
            at = entry.enqueued_at + config.max_wait
            self._push_timer(at, "max_wait", entry.call_id, entry.enqueued_at)

    # -- states ---------------------------------------------------------------------------

    def _set_state(
        self, agent: Agent, state: AgentState, now: float, reason: str | None = None
    ) -> None:
        if state not in TRANSITIONS[agent.state]:
            raise RoutingError(f"{agent.username}: {agent.state} -> {state} is not allowed")
        if agent.state is _S.AVAILABLE:
            self._unindex(agent)
        if state is _S.ON_CALL:
            agent.busy_since = now
        agent.state, agent.since, agent.remote = state, now, False
        agent.reason = reason if state is _S.NOT_READY else None
        if state is not _S.WRAP_UP:
            agent.wrap_up_until = None
        if state is _S.AVAILABLE:
            agent.idle_since = now
            self._index(agent)
            self._dirty_agents.append(agent.username)
        self._events.append(
            AgentStateChanged(agent.username, state, agent.reason, now, agent.wrap_up_until)
        )

    def _finish_wrap_up(self, agent: Agent, now: float) -> None:
        self._close_handle(agent, now)
        reason, agent.pending_reason = agent.pending_reason, None
        if reason is None:
            self._set_state(agent, _S.AVAILABLE, now)
        else:
            self._set_state(agent, _S.NOT_READY, now, reason)

    def _close_handle(self, agent: Agent, now: float) -> None:
        if agent.queue in self.counters and agent.answered_at is not None:
            self.counters[agent.queue].on_handled(now - agent.answered_at)
        if agent.busy_since is not None:
            agent.busy_seconds += now - agent.busy_since
        agent.busy_since = agent.answered_at = None
        agent.call_id = agent.queue = None

    def _index(self, agent: Agent) -> None:
        self._available.add(agent.username)
        for language in agent.languages:
            self._by_language.setdefault(language, set()).add(agent.username)
        for skill in agent.skills:
            self._by_skill.setdefault(skill, set()).add(agent.username)

    def _unindex(self, agent: Agent) -> None:
        self._available.discard(agent.username)
        for language in agent.languages:
            self._by_language.get(language, set()).discard(agent.username)
        for skill in agent.skills:
            self._by_skill.get(skill, set()).discard(agent.username)

    def _agent(self, username: str) -> Agent:
        agent = self.agents.get(username)
        if agent is None:
            raise RoutingError(f"no agent {username!r} signed in")
        return agent

    # -- buckets --------------------------------------------------------------------------

    def _push(self, entry: Waiting) -> None:
        self._take_out(entry)
        entry.version += 1
        entry.in_bucket = True
        key = entry.bucket_key()
        item = (-entry.priority, entry.seq, entry.version, entry.call_id)
        heapq.heappush(self._buckets.setdefault(key, []), item)
        self._bucket_live[key] = self._bucket_live.get(key, 0) + 1
        self._dirty_calls.append(entry.call_id)

    def _take_out(self, entry: Waiting) -> None:
        """Out of its bucket (offered, moved or gone); its heap item goes stale."""
        if not entry.in_bucket:
            return  # already out (it rings)
        entry.in_bucket = False
        entry.version += 1
        key = entry.bucket_key()
        live = self._bucket_live[key] - 1
        if live:
            self._bucket_live[key] = live
        else:  # drop the bucket with its stale items: keeps the agent-side scan short
            del self._bucket_live[key], self._buckets[key]

    def _remove(self, entry: Waiting) -> None:
        self._take_out(entry)
        self.calls.pop(entry.call_id, None)

    def _head(self, key: BucketKey) -> Waiting | None:
        heap = self._buckets[key]
        while heap:
            _, _, version, call_id = heap[0]
            entry = self.calls.get(call_id)
            if entry is not None and entry.version == version and entry.offer_id is None:
                return entry
            heapq.heappop(heap)
        return None

    # -- figures --------------------------------------------------------------------------

    def position(self, call_id: str) -> int:
        """1-based place among the callers waiting in the same queue."""
        entry = self.calls[call_id]
        mine = entry.sort_key()
        ahead = sum(
            1
            for other in self.calls.values()
            if other.queue == entry.queue
            and other.kind == "live"
            and other.offer_id is None
            and other.sort_key() < mine
        )
        return ahead + 1

    def estimated_wait(self, call_id: str) -> float:
        """Seconds: callers ahead (and this one) x recent handle time / agents who could help."""
        entry = self.calls[call_id]
        staffed = sum(
            1
            for agent in self.agents.values()
            if agent.state not in (_S.OFFLINE, _S.NOT_READY)
            and agent.fits(entry.skills, entry.language)
        )
        aht = self.counters[entry.queue].recent_aht()
        return self.position(call_id) * aht / max(staffed, 1)

    def queue_figures(self, now: float) -> dict[str, dict[str, Any]]:
        """Per queue: waiting, longest wait, SL, ASA, AHT, abandonment, RONA, overflows."""
        figures: dict[str, dict[str, Any]] = {}
        for name, counters in self.counters.items():
            waits = [
                now - c.enqueued_at
                for c in self.calls.values()
                if c.queue == name and c.kind == "live"
            ]
            figures[name] = {
                "waiting": len(waits),
                "longest_wait": max(waits, default=0.0),
                "callbacks": sum(
                    1 for c in self.calls.values() if c.queue == name and c.kind == "callback"
                ),
                **counters.figures(),
            }
        return figures

    def agent_figures(self, now: float) -> dict[str, dict[str, Any]]:
        """Per agent: state, reason, time in state, occupancy."""
        return {
            a.username: {
                "state": str(a.state),
                "reason": a.reason,
                "since": a.since,
                "time_in_state": now - a.since,
                "occupancy": a.occupancy(now) if a.state is not _S.OFFLINE else None,
                "queue": a.queue,
            }
            for a in self.agents.values()
        }
