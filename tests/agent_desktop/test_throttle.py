"""The failed-login throttle with a fake clock: sliding window, reset, memory bound."""

from __future__ import annotations

import pytest

from agent_desktop.throttle import LoginThrottle

KEY = ("sue", "192.0.2.7")


def fail(throttle: LoginThrottle, times: int, now: float, key: tuple[str, str] = KEY) -> None:
    for _ in range(times):
        throttle.failed(key, now)


def test_blocks_after_limit_failures_until_the_oldest_leaves_the_window() -> None:
    throttle = LoginThrottle(limit=3, window=60)
    throttle.failed(KEY, 0.0)
    fail(throttle, 1, 10.0)
    assert throttle.retry_after(KEY, 10.0) is None
    throttle.failed(KEY, 20.0)
    assert throttle.retry_after(KEY, 20.0) == 40  # the failure at 0 counts until 60
    assert throttle.retry_after(KEY, 59.5) == 1
    assert throttle.retry_after(KEY, 60.0) is None  # one more try allowed ...
    throttle.failed(KEY, 60.0)
    assert throttle.retry_after(KEY, 60.0) == 10  # ... then blocked until 10 + 60


def test_keys_are_independent() -> None:
    throttle = LoginThrottle(limit=2, window=60)
    fail(throttle, 2, 0.0)
    assert throttle.retry_after(KEY, 1.0) == 59
    assert throttle.retry_after(("sue", "198.51.100.1"), 1.0) is None
    assert throttle.retry_after(("ann", "192.0.2.7"), 1.0) is None


def test_success_forgets_the_failures() -> None:
    throttle = LoginThrottle(limit=2, window=60)
    fail(throttle, 2, 0.0)
    throttle.succeeded(KEY)
    assert throttle.retry_after(KEY, 0.0) is None
    assert len(throttle) == 0


def test_aged_out_keys_are_dropped() -> None:
    throttle = LoginThrottle(limit=2, window=60)
    fail(throttle, 1, 0.0)
    assert throttle.retry_after(KEY, 60.0) is None
    assert len(throttle) == 0


def test_memory_is_bounded() -> None:
    throttle = LoginThrottle(limit=2, window=60, max_keys=3)
    for n in range(3):
        throttle.failed((f"user{n}", "192.0.2.7"), 0.0)
    throttle.failed(("user3", "192.0.2.7"), 1.0)  # full: the oldest key goes
    assert len(throttle) == 3
    fail(throttle, 1, 1.0, ("user0", "192.0.2.7"))
    assert len(throttle) == 3
    throttle.failed(("late", "192.0.2.7"), 100.0)  # everything aged out: all room again
    assert len(throttle) == 1


@pytest.mark.parametrize(("limit", "window", "max_keys"), [(0, 1, 1), (1, 0, 1), (1, 1, 0)])
def test_bad_settings_are_refused(limit: int, window: float, max_keys: int) -> None:
    with pytest.raises(ValueError, match="limit and max_keys"):
        LoginThrottle(limit, window, max_keys)
