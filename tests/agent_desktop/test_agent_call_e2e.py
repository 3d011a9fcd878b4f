"""A SIP caller through the demo IVR and the real ACD, answered in Chromium, end to end.

The whole server runs as `hotline serve --demo` does (`Hotline` with demo=True: the
demo shop flow in `ivr.runtime.FlowRuntime`, `routing.service.RoutingService`, the
PostgreSQL CRM, the agent desktop), inside a loopback-only network namespace.  baresip
calls ``sip:shop@`` from a demo customer's number and keys 1 (English) then 0 (an
agent): the flow queues the call to ``orders``; the agent's page shows the screen-pop
(the customer's name, last order, the IVR path and the keys) before "Answer"; after
"Answer" a tone from each side is detected on the other (the page's analyser, a
Goertzel filter on baresip's recording); "Hang up", wrap-up "Done" writes the
interaction back to the CRM, and the next call from the same number shows it in the
screen-pop's history.

RONA: two agents ready, the one the strategy picks lets the offer ring past the queue's
ring timeout (lowered for the test in the queue's row, through the ACD's ``save_queue``):
it goes not ready on its page and the call rings the other agent, who answers; reloading
that page mid-call brings the call back with audio both ways.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import math
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from crm_bridge.demo import (
    DEMO_CUSTOMER_NAME,
    DEMO_CUSTOMER_PHONE,
    DEMO_ORDER_PROCESSING,
    DEMO_ORDER_SHIPPED,
    DEMO_VIP_NAME,
    DEMO_VIP_PHONE,
)
from crm_bridge.phone import normalize_phone
from hotline.app import Hotline
from hotline.config import Config
from ivr.demo import DEMO_FLOW_NAME, demo_flow_doc
from ivr.store import FlowStore
from tests.agent_desktop.chromium import (
    AGENT_HZ,
    CALLER_HZ,
    CHROMIUM,
    agent_hears,
    chromium_args,
    goertzel_ratio,
    sign_in,
    write_tone,
)
from tests.interop.baresip import Baresip
from tests.interop.conftest import free_port, wait_for

pytestmark = pytest.mark.peer

#: the demo IVR: 1 = English (choose_language), 0 = an agent (main_menu -> queue_agent)
KEYS = "10"
IVR_PATH = ["welcome", "polish_hint", "choose_language", "english", "vip_check", "hours",
            "notice", "main_menu", "queue_agent"]  # fmt: skip
VIP_PATH = [*IVR_PATH[:5], "vip_greeting", *IVR_PATH[5:]]
#: the caller's WAV is silent while it keys through the IVR, then a tone for the agent
SILENT_SECONDS = 6.0
RING_TIMEOUT = 4  # seconds, for the RONA test (the demo queue rings 15 s)


def open_all_week(doc: dict[str, Any]) -> dict[str, Any]:
    """The demo flow open round the clock: the test runs at any hour, on holidays too."""
    doc = copy.deepcopy(doc)
    for node in doc["nodes"]:
        if node["id"] == "hours":
            days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
            node["rules"][0]["when"]["weekly"] = {day: ["00:00-24:00"] for day in days}
            node["rules"][0]["when"]["holidays"] = []
    return doc


@pytest.fixture
async def server(netns: None, config: Config) -> AsyncIterator[Hotline]:
    cfg = dataclasses.replace(config, sip_host="127.0.0.1", sip_port=free_port(),
                              http_host="127.0.0.1", http_port=0, rtp_ports=(41000, 41999),
                              demo=True)  # fmt: skip
    async with Hotline(cfg) as running:
        assert running.store is not None
        flows = FlowStore(running.store)
        [demo] = [f for f in await flows.list() if f.name == DEMO_FLOW_NAME]
        await flows.update_draft(demo.id, open_all_week(demo_flow_doc()), by="test")
        await flows.publish(demo.id, by="test", comment="open all week")
        yield running


@pytest.fixture
async def browser(netns: None, tmp_path: Path) -> AsyncIterator[Browser]:
    tone = write_tone(tmp_path / "agent.wav", AGENT_HZ)
    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                           args=chromium_args(tone))  # fmt: skip
        try:
            yield chromium
        finally:
            await chromium.close()


def url(server: Hotline) -> str:
    assert server.http is not None
    return f"http://127.0.0.1:{server.http.port}"


def caller_wav(path: Path, seconds: float = 60.0) -> Path:
    """Silence while the caller keys through the IVR (no speech for its recognizer to
    hear), then the caller's tone."""
    t = np.arange(int((seconds - SILENT_SECONDS) * 8000)) / 8000
    tone = (8000 * np.sin(2 * math.pi * CALLER_HZ * t)).astype(np.int16)
    pcm = np.concatenate([np.zeros(int(SILENT_SECONDS * 8000), np.int16), tone])
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(pcm.tobytes())
    return path


class Caller:
    """baresip calling the demo shop from ``number`` and keying its way to an agent."""

    def __init__(self, server: Hotline, workdir: Path, number: str, rtp_low: int) -> None:
        self.target = f"sip:shop@127.0.0.1:{server.config.sip_port}"
        self.phone = Baresip(workdir, caller_wav(workdir.parent / f"{workdir.name}.wav"),
                             (free_port(), free_port(), rtp_low))  # fmt: skip
        (self.phone.config_dir / "accounts").write_text(
            f"<sip:{number}@127.0.0.1>;regint=0;audio_codecs=PCMU\n"
        )
        self.started = 0.0

    async def __aenter__(self) -> Caller:
        await self.phone.__aenter__()
        assert await self.phone.dial(self.target), self.phone.result.events
        self.started = asyncio.get_running_loop().time()
        for key in KEYS:  # type-ahead: the menus take them as they come
            await self.phone.press(key)
            await asyncio.sleep(0.3)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.phone.__aexit__(*exc)

    async def until_talking(self) -> None:
        """Until the caller's WAV has reached its tone."""
        left = self.started + SILENT_SECONDS + 0.5 - asyncio.get_running_loop().time()
        await asyncio.sleep(max(0.0, left))


async def ready(page: Page, server: Hotline, username: str) -> None:
    await sign_in(page, url(server), username, f"{username}pass")
    await page.get_by_role("button", name="Ready", exact=True).click()
    await expect(page.locator("#state")).to_have_text("available")


async def pop_before_answer(
    page: Page, name: str, order: str | None, *, path: list[str] = IVR_PATH,
    history: str | None = None,
) -> None:  # fmt: skip
    """The screen-pop of a ringing call: caller, last order, the IVR path and keys."""
    await expect(page.locator("#state")).to_have_text("reserved", timeout=30_000)
    await expect(page.locator("#pop-name")).to_have_text(name, timeout=10_000)
    if order is not None:
        await expect(page.locator("#pop-orders")).to_contain_text(order)
    await expect(page.locator("#pop-ivr-path")).to_have_text(" → ".join(path))
    await expect(page.locator("#pop-ivr-said")).to_contain_text("keyed: 1")
    await expect(page.locator("#pop-ivr-said")).to_contain_text("keyed: 0")
    if history is not None:
        await expect(page.locator("#pop-history")).to_contain_text(history)
    await expect(page.get_by_role("button", name="Answer", exact=True)).to_be_enabled()


async def answer_and_talk(page: Page, caller: Caller) -> None:
    await page.get_by_role("button", name="Answer", exact=True).click()
    await expect(page.locator("#state")).to_have_text("on call")
    await caller.until_talking()
    assert await agent_hears(page, CALLER_HZ), await page.evaluate("audio.peak()")


async def hang_up_and_wrap_up(page: Page, caller: Caller, notes: str) -> None:
    await asyncio.sleep(2.0)  # the agent's tone reaches baresip's recording
    await page.get_by_role("button", name="Hang up", exact=True).click()
    # the flow goes on to its survey; this caller does not stay for it
    await caller.phone.hangup()
    assert await caller.phone.wait_for("CALL_CLOSED", 10)
    form = page.locator("#wrap-up")
    await expect(form).to_be_visible()
    await form.get_by_label("Disposition code").select_option("order_status")
    await form.get_by_label("Notes").fill(notes)
    await form.get_by_label("Resolved").check()
    await form.get_by_role("button", name="Done").click()
    await expect(page.locator("#state")).to_have_text("available")


def heard_agent(recording: np.ndarray | None, after: float = 0.0) -> bool:
    """Some second of baresip's recording, ``after`` s into the call, is mostly the agent's
    tone (PCMU, 8 kHz)."""
    assert recording is not None
    start = int(after * 8000) + 8000
    return max((goertzel_ratio(recording[i - 8000 : i], AGENT_HZ)
                for i in range(start, len(recording), 4000)), default=0.0) > 0.5  # fmt: skip


async def test_customer_through_the_ivr_answered_in_chromium_with_history(
    server: Hotline, browser: Browser, tmp_path: Path
) -> None:
    page = await browser.new_page()
    await ready(page, server, "agent1")

    async with Caller(server, tmp_path / "call1", DEMO_CUSTOMER_PHONE, 42000) as caller:
        await pop_before_answer(page, DEMO_CUSTOMER_NAME, DEMO_ORDER_SHIPPED)
        await answer_and_talk(page, caller)
        await hang_up_and_wrap_up(page, caller, "first call: parcel late")
    assert heard_agent(caller.phone.result.recording)

    # the write-back goes through the CRM's outbox: the next call's look-up must see it
    crm = server.services.crm
    customer = await crm.customer_by_phone(normalize_phone(DEMO_CUSTOMER_PHONE))

    async def written_back() -> bool:
        return any(i.notes == "first call: parcel late" for i in await crm.history(customer.id))

    assert await wait_for(written_back, 15)

    async with Caller(server, tmp_path / "call2", DEMO_CUSTOMER_PHONE, 42040) as caller:
        await pop_before_answer(page, DEMO_CUSTOMER_NAME, DEMO_ORDER_SHIPPED,
                                history="first call: parcel late")  # fmt: skip
        await answer_and_talk(page, caller)
        await hang_up_and_wrap_up(page, caller, "second call")


async def test_rona_moves_the_call_to_the_next_agent_and_a_reload_keeps_it(
    server: Hotline, browser: Browser, tmp_path: Path
) -> None:
    routing = server.services.routing
    orders = routing.acd.queues["orders"]
    await routing.save_queue(dataclasses.replace(orders, ring_timeout=RING_TIMEOUT))
    pages = {name: await browser.new_page() for name in ("agent1", "agent2")}
    for name, page in pages.items():
        await ready(page, server, name)

    async with Caller(server, tmp_path / "rona", DEMO_VIP_PHONE, 42080) as caller:
        ringing = asyncio.get_running_loop().create_future()

        async def rings(name: str) -> None:
            await expect(pages[name].locator("#state")).to_have_text("reserved", timeout=30_000)
            if not ringing.done():
                ringing.set_result(name)

        watchers = [asyncio.create_task(rings(name)) for name in pages]
        first = await asyncio.wait_for(ringing, 35)
        for task in watchers:
            task.cancel()
        second = next(name for name in pages if name != first)
        await expect(pages[first].locator("#pop-name")).to_have_text(DEMO_VIP_NAME)

        # nobody answers on the first page: past the ring timeout it goes not ready...
        await expect(pages[first].locator("#state")).to_have_text(
            "not ready", timeout=(RING_TIMEOUT + 5) * 1000
        )
        await expect(pages[first].locator("#screen-pop")).to_be_hidden()
        # ...and the call rings the other agent, pop and all
        await pop_before_answer(pages[second], DEMO_VIP_NAME, DEMO_ORDER_PROCESSING,
                                path=VIP_PATH)  # fmt: skip
        await expect(pages[second].locator("#pop-vip")).to_be_visible()
        await answer_and_talk(pages[second], caller)

        await pages[second].reload()  # the call stays up; audio is negotiated again
        await pages[second].wait_for_function("window.audio.state === 'connected'", timeout=10_000)
        await expect(pages[second].locator("#state")).to_have_text("on call")
        reloaded = asyncio.get_running_loop().time() - caller.started
        assert await agent_hears(pages[second], CALLER_HZ)
        await hang_up_and_wrap_up(pages[second], caller, "after RONA")
    # the caller heard the agent after the reload, not only before it
    assert heard_agent(caller.phone.result.recording, after=reloaded)
    await expect(pages[first].locator("#state")).to_have_text("not ready")
    await expect(pages[first].locator("#state")).to_have_attribute("title", "rona")

    async def cancelled() -> list[tuple[str, str]]:  # the record is written behind the call
        records = await server.store.calls.recent(limit=1)
        return [(e["agent"], e["reason"]) for r in records for e in r.events
                if e["type"] == "offer_cancelled"]  # fmt: skip

    assert await wait_for(cancelled, 10) == [(first, "rona")]
