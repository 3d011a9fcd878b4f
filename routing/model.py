"""The ACD's data: agent states (a transition table), agents, queue definitions, waiting calls.

Times are UNIX seconds passed in by the caller (``now``); nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal


class AgentState(StrEnum):
    """Where an agent is.  ``reserved`` means an offer is ringing on the desktop."""

    OFFLINE = "offline"
    AVAILABLE = "available"
    RESERVED = "reserved"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"  # timed: ends at ``wrap_up_until`` or when the agent is done
    NOT_READY = "not_ready"  # with a reason ("break", "rona", "disconnected", ...)


_S = AgentState
# Rules: only an available agent is offered a call; a ringing offer ends answered (on call),
# unanswered (RONA -> not ready), or withdrawn (caller left -> available); a call always ends
# in wrap-up; anyone may sign out except mid-call (the call ends first).
TRANSITIONS: dict[AgentState, frozenset[AgentState]] = {
    _S.OFFLINE: frozenset({_S.AVAILABLE, _S.NOT_READY}),
    _S.AVAILABLE: frozenset({_S.RESERVED, _S.NOT_READY, _S.OFFLINE}),
    _S.RESERVED: frozenset({_S.ON_CALL, _S.NOT_READY, _S.AVAILABLE, _S.OFFLINE}),
    _S.ON_CALL: frozenset({_S.WRAP_UP}),
    _S.WRAP_UP: frozenset({_S.AVAILABLE, _S.NOT_READY, _S.OFFLINE}),
    _S.NOT_READY: frozenset({_S.AVAILABLE, _S.NOT_READY, _S.OFFLINE}),
}

BUSY_STATES = frozenset({_S.RESERVED, _S.ON_CALL, _S.WRAP_UP})

MaxWaitAction = Literal["voicemail", "callback", "timeout"]


class RoutingError(Exception):
    """A command that does not fit the current state (local misuse of the API)."""


@dataclass(slots=True, eq=False)
class Agent:
    """One agent as the router sees them."""

    username: str
    skills: dict[str, int]  # skill -> level 1..5
    languages: frozenset[str]
    state: AgentState = AgentState.OFFLINE
    since: float = 0.0  # time of the last state change
    reason: str | None = None  # why not ready
    idle_since: float = 0.0  # became available (longest idle)
    wrap_up_until: float | None = None
    pending_reason: str | None = None  # not ready requested during a call / wrap-up
    offer_id: str | None = None
    call_id: str | None = None
    queue: str | None = None  # queue of the current offer/call
    signed_in_at: float = 0.0
    busy_seconds: float = 0.0  # on call + wrap-up since sign-in (least occupied)
    busy_since: float | None = None
    last_offer: int = 0  # global offer counter value at this agent's last offer (round robin)
    answered_at: float | None = None
    remote: bool = False  # state set by another server process (a reservation there)

    def occupancy(self, now: float) -> float:
        """Share of the signed-in time spent on calls and wrap-up."""
        busy = self.busy_seconds + (now - self.busy_since if self.busy_since is not None else 0)
        return busy / max(now - self.signed_in_at, 1.0)

    def fits(self, skills: dict[str, int], language: str) -> bool:
        """True when the agent has every skill at its level and speaks ``language``."""
        if language not in self.languages:
            return False
        own = self.skills
        return all(own.get(skill, 0) >= level for skill, level in skills.items())


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """A queue definition (a row in ``routing_queues``).

    ``overflow_after`` seconds in this queue moves the caller to ``overflow_queue`` or, without
    one, widens the requirement to ``overflow_skills`` (the IVR's extra skills are dropped:
    any agent with the widened skills may take the call).  ``max_wait`` (whole time in the
    ACD) ends the wait with ``max_wait_action``; ``callback`` keeps the caller's place.
    """

    name: str
    skills: dict[str, int] = field(default_factory=dict)
    strategy: str = "longest_idle"
    ring_timeout: float = 15.0
    wrap_up: float = 30.0
    overflow_after: float | None = None
    overflow_queue: str | None = None
    overflow_skills: dict[str, int] | None = None
    max_wait: float | None = None
    max_wait_action: MaxWaitAction = "voicemail"
    sl_seconds: float = 20.0  # service level: answered within this many seconds
    announce_every: float = 30.0
    language: str = "en"  # announcements


@dataclass(slots=True, eq=False)
class Waiting:
    """One caller in the ACD (live, or a callback keeping its place)."""

    call_id: str
    queue: str
    skills: dict[str, int]  # effective requirement (queue + request)
    language: str
    priority: int
    enqueued_at: float  # entered the ACD (wait time, max wait)
    queued_at: float  # entered the current queue (overflow)
    seq: int  # place in line: lower is earlier; kept across RONA and overflow
    request_skills: dict[str, int] = field(default_factory=dict)
    target_agent: str | None = None  # a transfer to one agent
    kind: Literal["live", "callback"] = "live"
    offer_id: str | None = None
    hops: int = 0  # overflows taken
    max_wait_due: bool = False
    context: dict[str, Any] = field(default_factory=dict)
    caller: str = ""
    transferred_from: str | None = None
    version: int = 0  # bumps whenever the heap item for this call goes stale
    in_bucket: bool = False  # waiting in line (not ringing, not gone)

    def sort_key(self) -> tuple[int, int]:
        """Higher priority first, then earlier arrival."""
        return (-self.priority, self.seq)

    def bucket_key(self) -> BucketKey:
        return (self.queue, self.language, frozenset(self.skills.items()), self.target_agent)


BucketKey = tuple[str, str, frozenset[tuple[str, int]], str | None]


@dataclass(frozen=True, slots=True)
class Offer:
    """An agent was picked for a call (the ring starts)."""

    offer_id: str
    call_id: str
    username: str
    queue: str
    wait_seconds: float
    expires_at: float
    kind: Literal["live", "callback"] = "live"
