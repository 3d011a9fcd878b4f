"""What the router decided: events the asyncio edge turns into offers, prompts and rows."""

from __future__ import annotations

from dataclasses import dataclass

from routing.model import AgentState, MaxWaitAction, Offer


@dataclass(frozen=True, slots=True)
class OfferMade:
    """Ring ``offer.username`` with ``offer.call_id`` until ``offer.expires_at``."""

    offer: Offer


@dataclass(frozen=True, slots=True)
class OfferCancelled:
    """The offer is over unanswered: ``rona``, ``abandoned``, ``disconnected``, ``failed``."""

    offer_id: str
    call_id: str
    username: str
    reason: str


@dataclass(frozen=True, slots=True)
class AgentStateChanged:
    """Store it (with ``at``) and tell the agent's desktop."""

    username: str
    state: AgentState
    reason: str | None
    at: float
    wrap_up_until: float | None = None
    remote: bool = False  # written by another server process: mirror it, do not store it


@dataclass(frozen=True, slots=True)
class CallOverflowed:
    """The caller moved to ``to_queue`` or its required skills were widened."""

    call_id: str
    from_queue: str
    to_queue: str
    skills: dict[str, int]


@dataclass(frozen=True, slots=True)
class MaxWaitReached:
    """The caller waited the queue's maximum; ``action`` says what happens now."""

    call_id: str
    queue: str
    action: MaxWaitAction
    wait_seconds: float


RouterEvent = OfferMade | OfferCancelled | AgentStateChanged | CallOverflowed | MaxWaitReached
