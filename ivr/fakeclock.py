"""A fake call clock for simulations and tests: time moves only when everything waits.

``await clock.run(coro)`` drives ``coro``: whenever every task is blocked on
``clock.sleep``, the clock jumps to the earliest wake-up. Real I/O (a database query in a
simulation) runs inside ``with clock.busy():`` so the fake time stands still meanwhile;
nothing ever sleeps for real except to let such I/O progress.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
SETTLE_ROUNDS = 50  # loop iterations that let ready tasks run before time moves


class FakeClock:
    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0
        self._busy = 0

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self._now + max(0.0, seconds), self._seq, future))
        self._seq += 1
        await future

    @contextmanager
    def busy(self) -> Iterator[None]:
        """Hold the clock still while real I/O runs."""
        self._busy += 1
        try:
            yield
        finally:
            self._busy -= 1

    async def run(self, work: Awaitable[T], real_timeout: float = 30.0) -> T:
        """Drive ``work`` to completion, advancing fake time whenever it only waits."""
        task = asyncio.ensure_future(work)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + real_timeout
        try:
            while not task.done():
                for _ in range(SETTLE_ROUNDS):
                    await asyncio.sleep(0)
                    if task.done():
                        break
                if task.done():
                    break
                if loop.time() > deadline:
                    raise TimeoutError("simulation made no progress")
                if self._busy or not self._fire_next():
                    await asyncio.sleep(0.001)  # real I/O in flight: let it progress
        finally:
            if not task.done():
                task.cancel()
        return task.result()

    def _fire_next(self) -> bool:
        while self._timers and self._timers[0][2].done():  # cancelled sleepers
            heapq.heappop(self._timers)
        if not self._timers:
            return False
        when = self._timers[0][0]
        self._now = max(self._now, when)
        while self._timers and self._timers[0][0] <= when:
            future = heapq.heappop(self._timers)[2]
            if not future.done():
                future.set_result(None)
        return True
