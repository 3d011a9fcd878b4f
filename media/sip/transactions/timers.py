"""Timer values (RFC 3261 §17, table 4 of appendix A) and the lazy timer heap."""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass

from ..errors import LocalProtocolError
from .fsm import Stimulus, Transaction

#: Timers that retransmit: they run on unreliable transports only.
RETRANSMIT_TIMERS = frozenset({Stimulus.TIMER_A, Stimulus.TIMER_E, Stimulus.TIMER_G})
#: Timers that only absorb retransmissions: zero on reliable transports.
ABSORB_TIMERS = frozenset({Stimulus.TIMER_D, Stimulus.TIMER_I, Stimulus.TIMER_J, Stimulus.TIMER_K})

TIMER_D_MIN = 32.0  # §17.1.1.2: "at least 32 seconds for unreliable transports"


@dataclass(frozen=True, slots=True)
class TimerValues:
    """T1 (RTT estimate), T2 (cap of non-INVITE retransmission intervals), T4 (§17.1.2.2)."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0

    def __post_init__(self) -> None:
        if not 0 < self.t1 <= self.t2 or self.t4 < 0:
            raise LocalProtocolError("timer values need 0 < T1 <= T2 and T4 >= 0")

    def initial(self, timer: Stimulus, reliable: bool) -> float | None:
        """First duration of ``timer``, or None when it does not run at all."""
        if timer in RETRANSMIT_TIMERS:
            return None if reliable else self.t1
        if timer in ABSORB_TIMERS and reliable:
            return 0.0
        if timer is Stimulus.TIMER_D:
            return max(TIMER_D_MIN, 64 * self.t1)
        if timer in (Stimulus.TIMER_I, Stimulus.TIMER_K):
            return self.t4
        return 64 * self.t1  # B, F, H, J, L, CANCEL_EXPIRED

    def backoff(self, timer: Stimulus, interval: float, proceeding: bool) -> float:
        """The next retransmission interval after ``interval`` (§17.1.1.2, §17.1.2.2, §17.2.1).

        Timer A doubles without bound (Timer B ends it); E and G double up to
        T2; E stays at T2 once a provisional response arrived.
        """
        if timer is Stimulus.TIMER_A:
            return 2 * interval
        if timer is Stimulus.TIMER_E and proceeding:
            return self.t2
        return min(2 * interval, self.t2)


class TimerHeap:
    """Deadlines of all transactions in one heap, cancelled lazily.

    The heap holds ``(deadline, generation)`` pairs; ``_owners`` maps the
    generation of each live timer to the serial of its transaction (see
    :mod:`.table`), which maps the timer's stimulus value to the generation
    (``Transaction.timers``).  Cancelling forgets both mappings, and a pair
    whose generation has no owner is dropped when it reaches the top.  Only
    numbers: the garbage collector tracks none of it, and a cancelled timer
    keeps nothing alive.  Every operation is O(log n).
    """

    __slots__ = ("_generations", "_heap", "_owners")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int]] = []
        self._owners: dict[int, int] = {}
        self._generations = itertools.count()

    def start(self, transaction: Transaction, timer: Stimulus, deadline: float) -> None:
        """Start ``timer`` (again: the older entry is cancelled) to fire at ``deadline``."""
        self.cancel(transaction, timer)
        generation = next(self._generations)
        transaction.timers[timer.value] = generation
        self._owners[generation] = transaction.serial
        heapq.heappush(self._heap, (deadline, generation))

    def cancel(self, transaction: Transaction, timer: Stimulus) -> None:
        generation = transaction.timers.pop(timer.value, None)
        if generation is not None:
            self._owners.pop(generation, None)

    def cancel_all(self, transaction: Transaction) -> None:
        for generation in transaction.timers.values():
            self._owners.pop(generation, None)
        transaction.timers.clear()

    def next_deadline(self) -> float | None:
        heap = self._heap
        while heap and heap[0][1] not in self._owners:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def pop_due(self, now: float) -> tuple[int, int] | None:
        """The earliest live timer due at ``now``, removed: (serial of its owner, generation).

        The caller finds the transaction and takes the timer with :meth:`claim`.
        """
        deadline = self.next_deadline()
        if deadline is None or deadline > now:
            return None
        _, generation = heapq.heappop(self._heap)
        return self._owners.pop(generation), generation

    @staticmethod
    def claim(transaction: Transaction, generation: int) -> Stimulus | None:
        """Remove the timer of ``transaction`` that ``generation`` started; which one it was."""
        timers = transaction.timers
        value = next((value for value, live in timers.items() if live == generation), None)
        if value is None:
            return None
        del timers[value]
        return Stimulus(value)

    def __len__(self) -> int:
        """Entries in the heap, cancelled ones included until they surface."""
        return len(self._heap)
