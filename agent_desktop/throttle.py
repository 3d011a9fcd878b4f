"""Failed-login throttle: after too many failures for one key, refuse attempts for a while.

Sans-IO: the caller passes the time (``now``, seconds on any monotonic clock). The key is
(username, remote address), so a guesser is slowed down without locking the real user out
from another machine. State lives in memory, per process: with several processes behind a
load balancer each one counts on its own (a guesser gets at most ``limit`` tries per window
per process), and a restart forgets. That is enough to make online guessing impractical on
top of scrypt's cost; a shared, database-backed count can replace it behind the same methods.
"""

from __future__ import annotations

import math
from collections import deque

LIMIT = 10  # failures ...
WINDOW = 300.0  # ... within this many seconds block further attempts
MAX_KEYS = 10_000  # memory bound; the oldest keys are forgotten first

Key = tuple[str, str]  # (username, remote address)


class LoginThrottle:
    """Counts failed logins per key in a sliding window of ``window`` seconds."""

    def __init__(
        self, limit: int = LIMIT, window: float = WINDOW, max_keys: int = MAX_KEYS
    ) -> None:
        if limit < 1 or window <= 0 or max_keys < 1:
            raise ValueError("limit and max_keys must be >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._failures: dict[Key, deque[float]] = {}

    def retry_after(self, key: Key, now: float) -> int | None:
        """Whole seconds until ``key`` may try again, or None if it may try now."""
        failures = self._recent(key, now)
        if failures is None or len(failures) < self.limit:
            return None
        # Blocked until the oldest failure that still counts leaves the window.
        return max(1, math.ceil(failures[0] + self.window - now))

    def failed(self, key: Key, now: float) -> None:
        """Record a failed attempt for ``key`` at ``now``."""
        failures = self._recent(key, now)
        if failures is None:
            self._make_room(now)
            failures = self._failures[key] = deque(maxlen=self.limit)
        failures.append(now)

    def succeeded(self, key: Key) -> None:
        """Forget ``key``'s failures (the right password was given)."""
        self._failures.pop(key, None)

    def __len__(self) -> int:
        return len(self._failures)

    def _recent(self, key: Key, now: float) -> deque[float] | None:
        failures = self._failures.get(key)
        if failures is None:
            return None
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return None
        return failures

    def _make_room(self, now: float) -> None:
        if len(self._failures) < self.max_keys:
            return
        for key in list(self._failures):  # drop keys whose failures all aged out
            self._recent(key, now)
        while len(self._failures) >= self.max_keys:  # still full: forget the oldest keys
            del self._failures[next(iter(self._failures))]
