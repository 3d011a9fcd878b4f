"""Agent selection strategies: which of the agents able to take a call gets it.

A strategy is a key function: the candidate with the smallest key wins, ties broken by
username so the choice is deterministic.  Register new ones with `register`; a queue names
its strategy in its row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from routing.model import Agent, Waiting

Key = Callable[[Agent, Waiting, float], Any]

_REGISTRY: dict[str, Key] = {}


def register(name: str) -> Callable[[Key], Key]:
    """Decorator: make ``key`` selectable as ``name``."""

    def add(key: Key) -> Key:
        _REGISTRY[name] = key
        return key

    return add


def names() -> list[str]:
    return sorted(_REGISTRY)


def get(name: str) -> Key:
    """The strategy called ``name``; ValueError for an unknown one."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r}; known: {', '.join(names())}") from None


def select(name: str, candidates: Iterable[Agent], call: Waiting, now: float) -> Agent | None:
    """The best candidate for ``call`` under strategy ``name`` (None if there is none)."""
    key = get(name)
    best: Agent | None = None
    best_key: Any = None
    for agent in candidates:
        k = (key(agent, call, now), agent.username)
        if best is None or k < best_key:
            best, best_key = agent, k
    return best


@register("longest_idle")
def longest_idle(agent: Agent, call: Waiting, now: float) -> float:
    """The agent available for the longest time."""
    return agent.idle_since


@register("round_robin")
def round_robin(agent: Agent, call: Waiting, now: float) -> int:
    """Agents in turn: the one whose last offer is the oldest (never offered first)."""
    return agent.last_offer


@register("least_occupied")
def least_occupied(agent: Agent, call: Waiting, now: float) -> tuple[float, float]:
    """Lowest occupancy (on call + wrap-up over signed-in time), then longest idle."""
    return (round(agent.occupancy(now), 6), agent.idle_since)


@register("best_skill")
def best_skill(agent: Agent, call: Waiting, now: float) -> tuple[int, float]:
    """Highest summed level in the call's skills, then longest idle."""
    own = agent.skills
    return (-sum(own.get(skill, 0) for skill in call.skills), agent.idle_since)
