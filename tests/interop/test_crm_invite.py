"""The CRM look-up starts when the INVITE arrives: a SIPp caller from a demo customer's number.

The server rings for 5 s and the caller CANCELs: the call is never answered and no call
handler runs, yet the caller's CRM record is known, because the look-up began with the
INVITE.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest

from crm_bridge import demo as d
from crm_bridge.lookup import lookup_for
from crm_bridge.screenpop import build_screen_pop
from hotline.app import Hotline
from hotline.config import Config

from .conftest import SCENARIOS
from .test_sipp import ended_calls, sip_target

pytestmark = pytest.mark.peer


@pytest.fixture
async def ringing_demo(hotline_config: Config) -> AsyncIterator[Hotline]:
    async with Hotline(dataclasses.replace(hotline_config, answer_delay=5.0)) as running:
        yield running


async def test_lookup_starts_at_invite_before_any_answer(
    ringing_demo: Hotline, run_sipp: Any
) -> None:
    scenario = str(SCENARIOS / "cancel_from_number.xml")
    result = await run_sipp(
        "-sf", scenario, sip_target(ringing_demo), "-key", "caller", d.DEMO_VIP_PHONE, "-m", "1"
    )
    assert result.rc == 0, result.log
    [record] = await ended_calls(ringing_demo, 1)
    assert record.end_reason == "cancelled" and record.answered_at is None

    lookup = lookup_for(record.call_id)
    assert lookup is not None, "no look-up was started for the INVITE"
    found = await lookup.final()
    assert found.status == "ready" and found.customer is not None
    assert found.customer.name == d.DEMO_VIP_NAME and found.customer.vip
    print(f"CRM look-up: {found.elapsed * 1000:.1f} ms from INVITE")  # type: ignore[operator]
    pop = build_screen_pop(found, record.events)
    assert pop["caller"]["number"] == d.DEMO_VIP_PHONE
    assert pop["last_order"]["number"] == d.DEMO_ORDER_PROCESSING
