"""How long the garbage collector stops the event loop: a figure for /healthz.

A generation-2 collection walks every tracked object with the loop stopped;
with thousands of calls that pause is what shows up as late RTP packets.
"""

from __future__ import annotations

import gc
import time
from typing import Any


class GcWatch:
    """Times every collection through ``gc.callbacks`` (a few µs each)."""

    def __init__(self) -> None:
        self._started = 0.0
        self.collections = [0, 0, 0]
        self.max_pause_ms = [0.0, 0.0, 0.0]

    def install(self) -> None:
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def uninstall(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        generation = info["generation"]
        pause = (time.perf_counter() - self._started) * 1000
        self.collections[generation] += 1
        self.max_pause_ms[generation] = max(self.max_pause_ms[generation], pause)

    def status(self) -> dict[str, Any]:
        return {
            "collections": list(self.collections),
            "max_pause_ms": [round(p, 2) for p in self.max_pause_ms],
        }
