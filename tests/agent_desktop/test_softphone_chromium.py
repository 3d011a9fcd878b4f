"""The softphone pages in Chromium over the real desktop WebSocket and the real ACD.

`routing.service.RoutingService` on the test's database (the demo queues and agents),
with a caller that is a `media.call.Call` on a leg the test ticks (no SIP: that path is
test_agent_call_e2e.py) and a screen-pop hook standing in for a slow CRM.  Sign in
through the login page, go ready, the caller queues: the offer's screen-pop arrives
late (pending first, then the customer); answer with audio both ways, reload mid-call
(the call and its audio come back), hold/mute/keypad, hang up, fill the wrap-up form.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import async_playwright, expect

from agent_desktop.api import add_api
from agent_desktop.desktop import add_desktop
from hotline.store import Store
from media.call import Call
from routing.contract import QueueRequest
from routing.demo import seed_routing_demo
from routing.service import RoutingService
from tests.agent_desktop.chromium import (
    AGENT_HZ,
    CALLER_HZ,
    CHROMIUM,
    Phone,
    agent_hears,
    caller_hears,
    chromium_args,
    sign_in,
    write_tone,
)
from tests.interop.conftest import free_port, wait_for

pytestmark = pytest.mark.peer

POP = {  # the shape of crm_bridge.screenpop.build_screen_pop
    "status": "ok",
    "caller": {"number": "+48601000002", "name": "James Carter", "vip": False, "known": True},
    "vip": False,
    "orders": [{"number": "100234", "status": "shipped", "placed_at": "2026-11-20T10:00:00+00:00"}],
    "history": [
        {
            "date": "2026-11-01T09:00:00+00:00",
            "queue": "orders",
            "disposition": "order_status",
            "notes": "asked about delivery",
        }
    ],
    "tickets": [{"id": 7, "subject": "Damaged lid", "status": "open", "priority": "high"}],
    "ivr": {"path": [], "inputs": []},
}
PENDING = {**POP, "status": "pending", "caller": {"number": "+48601000002", "name": None},
           "orders": [], "history": [], "tickets": []}  # fmt: skip
CONTEXT = {"ivr_path": ["welcome", "menu", "orders"],
           "inputs": [{"kind": "speech", "text": "where is my order"},
                      {"kind": "dtmf", "text": "100234"}]}  # fmt: skip


class SlowCrm:
    """The ACD's screen-pop hook for a CRM that answers after the offer went out."""

    def __init__(self) -> None:
        self.update: Callable[[dict[str, Any]], None] | None = None

    def __call__(self, call: Call, request: QueueRequest, wait: float,
                 update: Callable[[dict[str, Any]], None]) -> dict[str, Any]:  # fmt: skip
        self.update = update
        return PENDING


@pytest.fixture
async def desk(netns: None, store: Store, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    await seed_routing_demo(store)
    crm = SlowCrm()
    routing = RoutingService(store, screen_pop=crm, voicemail_dir=tmp_path / "voicemail")
    wrap_ups: list[dict[str, Any]] = []
    routing.wrap_up_hooks.append(wrap_ups.append)
    await routing.start()
    app = web.Application()
    add_api(app, store)
    hub = add_desktop(app, store.tokens, routing)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port((socket.SOCK_STREAM,))
    await web.TCPSite(runner, "127.0.0.1", port).start()
    phone = Phone(tmp_path)
    ticker = asyncio.create_task(phone.run())
    tone = write_tone(tmp_path / "agent.wav", AGENT_HZ)
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=chromium_args(tone)
        )
        try:
            url = f"http://127.0.0.1:{port}"
            yield {"routing": routing, "crm": crm, "wrap_ups": wrap_ups, "hub": hub,
                   "phone": phone, "browser": browser, "url": url}  # fmt: skip
        finally:
            await browser.close()
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            await runner.cleanup()
            await routing.stop()


async def test_offer_answer_reload_hangup_wrap_up(desk: dict[str, Any]) -> None:
    routing, crm, phone, hub = desk["routing"], desk["crm"], desk["phone"], desk["hub"]
    page = await desk["browser"].new_page()
    await sign_in(page, desk["url"], "agent1", "agent1pass")
    await page.get_by_role("button", name="Ready", exact=True).click()
    await expect(page.locator("#state")).to_have_text("available")

    request = QueueRequest("orders", context=CONTEXT)
    queued = asyncio.create_task(routing.enqueue(phone.call, request))
    pop = page.locator("#screen-pop")  # the CRM is slow: pending first
    await expect(pop.get_by_text("Looking up the customer")).to_be_visible()
    await expect(pop.get_by_text("where is my order")).to_be_visible()
    assert crm.update is not None
    crm.update(POP)
    await expect(page.locator("#pop-name")).to_have_text("James Carter")
    await expect(page.locator("#pop-orders")).to_contain_text("100234")
    await expect(page.locator("#pop-orders")).to_contain_text("shipped")
    await expect(page.locator("#pop-ivr-said")).to_contain_text("keyed: 100234")
    await expect(pop.get_by_text("asked about delivery")).to_be_visible()
    await expect(pop.get_by_text("Damaged lid", exact=False)).to_be_visible()
    await expect(page.locator("#pop-ivr-path")).to_have_text("welcome → menu → orders")
    await expect(page.locator("#pop-wait")).to_have_text(re.compile(r"^00:0\d$"))

    await page.get_by_role("button", name="Answer", exact=True).click()
    await expect(page.locator("#state")).to_have_text("on call")
    assert await agent_hears(page, CALLER_HZ)
    assert await caller_hears(phone, AGENT_HZ)

    await page.reload()  # the call stays up; the page redraws it and renegotiates audio
    await page.wait_for_function("window.audio.state === 'connected'", timeout=10_000)
    await expect(page.locator("#state")).to_have_text("on call")
    await expect(page.get_by_role("button", name="Hang up", exact=True)).to_be_enabled()
    assert hub.get("agent1").figures.negotiations == 2
    assert await agent_hears(page, CALLER_HZ)
    phone.heard.clear()
    assert await caller_hears(phone, AGENT_HZ)

    await page.get_by_role("button", name="Hold", exact=True).click()
    await expect(page.get_by_role("button", name="Resume", exact=True)).to_be_enabled()
    assert hub.get("agent1").held
    await page.get_by_role("button", name="Resume", exact=True).click()
    mute = page.get_by_role("button", name="Mute", exact=True)
    await mute.click()
    await expect(mute).to_have_attribute("aria-pressed", "true")
    assert hub.get("agent1").muted
    await page.get_by_role("button", name="Mute", exact=True).click()
    await page.locator("#keypad").get_by_role("button", name="5").click()
    await page.get_by_role("button", name="Hang up", exact=True).click()

    form = page.locator("#wrap-up")
    await expect(form).to_be_visible()
    await form.get_by_label("Disposition code").select_option("order_status")
    await form.get_by_label("Notes").fill("parcel arrives Thursday")
    await form.get_by_label("Resolved").check()
    await form.get_by_role("button", name="Done", exact=True).click()
    await expect(page.locator("#state")).to_have_text("available")

    async def wrapped_up() -> list[dict[str, Any]]:  # the hooks run after the state changed
        return list(desk["wrap_ups"])

    [wrap_up] = await wait_for(wrapped_up, 5)
    assert (wrap_up["call_id"], wrap_up["agent"], wrap_up["queue"]) == ("c1", "agent1", "orders")
    assert (wrap_up["disposition"], wrap_up["notes"], wrap_up["resolved"]) == (
        "order_status", "parcel arrives Thursday", True)  # fmt: skip
    assert 5 in phone.dtmf_events  # the keypad's key reached the caller (RFC 4733)
    assert hub.get("agent1").call is None
    outcome = await asyncio.wait_for(queued, 5)
    assert (outcome.kind, outcome.agent) == ("answered", "agent1")


async def test_bad_token_goes_back_to_the_login_page(desk: dict[str, Any]) -> None:
    page = await desk["browser"].new_page()
    await page.goto(desk["url"] + "/login")
    await page.evaluate("sessionStorage.setItem('hotline.token', 'not-a-token')")
    await page.goto(desk["url"] + "/softphone")
    await page.wait_for_url("**/login")
    await page.get_by_label("Username").fill("agent1")
    await page.get_by_label("Password").fill("wrong")
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.locator("#error")).to_contain_text("wrong username or password")
