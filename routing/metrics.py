"""Live queue figures: service level, ASA, AHT, abandonment; recent handle times for the EWT."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

RECENT_HANDLE_TIMES = 50
DEFAULT_HANDLE_TIME = 180.0  # until a queue has handled a call


@dataclass(slots=True)
class QueueCounters:
    """Counters since start; the service level counts abandons after the threshold as misses.

    SL = answered within T / (answered + abandoned after T): callers who hang up before T
    are left out (the common "short abandon" exclusion).
    """

    sl_seconds: float = 20.0
    offered: int = 0  # ring attempts
    answered: int = 0
    answered_in_sl: int = 0
    abandoned: int = 0
    abandoned_in_sl: int = 0
    wait_answered: float = 0.0
    handled: int = 0
    handle_total: float = 0.0
    rona: int = 0
    overflowed: int = 0
    max_wait: int = 0
    recent_handle: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT_HANDLE_TIMES))

    def on_answer(self, wait: float) -> None:
        self.answered += 1
        self.wait_answered += wait
        if wait <= self.sl_seconds:
            self.answered_in_sl += 1

    def on_abandon(self, wait: float) -> None:
        self.abandoned += 1
        if wait <= self.sl_seconds:
            self.abandoned_in_sl += 1

    def on_handled(self, seconds: float) -> None:
        self.handled += 1
        self.handle_total += seconds
        self.recent_handle.append(seconds)

    def recent_aht(self) -> float:
        """Mean of the recent handle times (talk + wrap-up), or a default before any."""
        if not self.recent_handle:
            return DEFAULT_HANDLE_TIME
        return sum(self.recent_handle) / len(self.recent_handle)

    def figures(self) -> dict[str, Any]:
        counted = self.answered + self.abandoned - self.abandoned_in_sl
        total = self.answered + self.abandoned
        return {
            "answered": self.answered,
            "abandoned": self.abandoned,
            "service_level": (self.answered_in_sl / counted) if counted else None,
            "sl_seconds": self.sl_seconds,
            "asa": (self.wait_answered / self.answered) if self.answered else None,
            "aht": (self.handle_total / self.handled) if self.handled else None,
            "abandonment": (self.abandoned / total) if total else None,
            "rona": self.rona,
            "overflowed": self.overflowed,
            "max_wait": self.max_wait,
        }
