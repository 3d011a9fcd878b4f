"""Fixtures shared by the agent-desktop tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from media.webrtc import use_host_addresses
from tests.agent_desktop.chromium import loopback_namespace


@pytest.fixture
def netns() -> Iterator[None]:
    """Server and Chromium in a private loopback-only network namespace (TESTING.md).

    aioice skips loopback addresses by default, so the server's ICE candidates are
    pinned to 127.0.0.1 for as long as the test runs.
    """
    with loopback_namespace():
        use_host_addresses(["127.0.0.1"])
        try:
            yield
        finally:
            use_host_addresses(None)
