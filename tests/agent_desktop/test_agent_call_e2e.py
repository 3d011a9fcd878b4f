"""A SIP caller from a demo customer's number answered in Chromium, end to end.

baresip calls from DEMO_CUSTOMER_PHONE; a test call handler looks the caller up in the
built-in CRM (demo shop) and offers the call to agent1 through the scripted ACD of these
tests (the real ACD and demo IVR take over this route once `routing.service` lands);
the page shows the customer's name and last order before "Answer"; after "Answer" a
tone from each side is detected on the other (the page's analyser, a Goertzel filter
on baresip's recording); "Hang up", wrap-up "Done" writes the interaction back to the
CRM, and the next call from the same number shows it in the screen-pop's history.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import wave
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.async_api import Page, async_playwright, expect

import hotline.app
from crm_bridge.demo import DEMO_CUSTOMER_NAME, DEMO_CUSTOMER_PHONE, seed_crm_demo
from crm_bridge.models import Interaction
from crm_bridge.phone import normalize_phone
from crm_bridge.postgres import PostgresCrm
from hotline.app import Hotline
from hotline.config import Config
from media.call import Call
from media.webrtc import use_host_addresses
from tests.agent_desktop.chromium import (
    AGENT_HZ,
    CALLER_HZ,
    CHROMIUM,
    agent_hears,
    chromium_args,
    goertzel_ratio,
    loopback_namespace,
    write_tone,
)
from tests.agent_desktop.fake_acd import FakeAcd
from tests.agent_desktop.test_softphone_chromium import sign_in
from tests.interop.baresip import Baresip
from tests.interop.conftest import free_port

pytestmark = pytest.mark.peer


async def screen_pop(crm: PostgresCrm, call: Call) -> dict[str, Any]:
    phone = normalize_phone(call.caller)
    customer = await crm.customer_by_phone(phone) if phone else None
    if customer is None:
        return {"status": "ok", "caller": {"number": phone, "name": None}}
    orders = [o.to_json() for o in await crm.orders(customer.id)]
    history = [{"date": i.started_at.isoformat(), "queue": i.queue, "disposition": i.disposition,
                "notes": i.notes} for i in await crm.history(customer.id)]  # fmt: skip
    tickets = [t.to_json() for t in await crm.open_tickets(customer.id)]
    return {"status": "ok", "caller": {"number": phone, "name": customer.name, "vip": customer.vip},
            "vip": customer.vip, "orders": orders, "last_order": orders[0] if orders else None,
            "history": history, "tickets": tickets, "customer_id": customer.id}  # fmt: skip


@pytest.fixture
def netns() -> Iterator[None]:
    with loopback_namespace():
        use_host_addresses(["127.0.0.1"])
        try:
            yield
        finally:
            use_host_addresses(None)


@pytest.fixture
async def server(netns: None, config: Config, monkeypatch: pytest.MonkeyPatch
                 ) -> AsyncIterator[dict[str, Any]]:  # fmt: skip
    acd = FakeAcd()
    real_start = hotline.app.start_services
    state: dict[str, Any] = {"acd": acd, "pops": []}

    async def start_services(cfg: Config, store: Any) -> Any:
        services = await real_start(cfg, store)
        await store.users.add_user("agent1", "agent1pass", "agent")
        crm = state["crm"] = await seed_crm_demo(store)

        async def handler(call: Call) -> None:
            pop = await screen_pop(crm, call)
            state["pops"].append(pop)
            acd.offer("agent1", call, pop, {"ivr_path": ["test-handler"]})
            await acd.agent_done[call.call_id].wait()
            await call.hangup()

        async def wrap_up(username: str, call_id: str, disposition: str, notes: str,
                          resolved: bool) -> None:  # fmt: skip
            pop = state["pops"][-1]
            await crm.record_interaction(Interaction(
                call_id=call_id, started_at=datetime.now(UTC), phone=pop["caller"]["number"],
                customer_id=pop.get("customer_id"), queue="orders", agent=username,
                disposition=disposition, notes=notes, resolved=resolved))  # fmt: skip

        acd.on_wrap_up = wrap_up
        services.routing, services.call_handler = acd, handler
        return services

    monkeypatch.setattr(hotline.app, "start_services", start_services)
    cfg = dataclasses.replace(config, sip_host="127.0.0.1", sip_port=free_port(),
                              http_host="127.0.0.1", http_port=0, rtp_ports=(41000, 41999),
                              demo=True)  # fmt: skip
    async with Hotline(cfg) as running:
        assert running.http is not None
        state["url"] = f"http://127.0.0.1:{running.http.port}"
        state["sip"] = f"sip:hotline@127.0.0.1:{cfg.sip_port}"
        yield state


def caller_wav(path: Path, seconds: float = 30.0) -> Path:
    t = np.arange(int(seconds * 8000)) / 8000
    pcm = (8000 * np.sin(2 * math.pi * CALLER_HZ * t)).astype(np.int16)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(pcm.tobytes())
    return path


async def one_call(page: Page, server: dict[str, Any], workdir: Path, notes: str,
                   history: str | None = None) -> np.ndarray:  # fmt: skip
    """Call, check the pop, answer, talk both ways, hang up, wrap up; baresip's recording."""
    ports = (free_port(), free_port(), 42000 + 40 * len(server["pops"]))
    phone = Baresip(workdir, caller_wav(workdir.parent / f"{workdir.name}.wav"), ports)
    (phone.config_dir / "accounts").write_text(
        f"<sip:{DEMO_CUSTOMER_PHONE}@127.0.0.1>;regint=0;audio_codecs=PCMU\n"
    )
    async with phone:
        assert await phone.dial(server["sip"])
        await expect(page.locator("#pop-name")).to_have_text(DEMO_CUSTOMER_NAME, timeout=10_000)
        last_order = server["pops"][-1]["last_order"]["number"]
        await expect(page.locator("#pop-orders")).to_contain_text(last_order)
        if history is not None:  # before answering, like the rest of the pop
            await expect(page.locator("#pop-history")).to_be_visible()
            await expect(page.locator("#pop-history")).to_contain_text(history)
        await page.get_by_role("button", name="Answer", exact=True).click()
        await expect(page.locator("#state")).to_have_text("on call")
        assert await agent_hears(page, CALLER_HZ), await page.evaluate("audio.peak()")
        await asyncio.sleep(2.0)  # the agent's tone reaches baresip's recording
        await page.get_by_role("button", name="Hang up", exact=True).click()
        assert await phone.wait_for("CALL_CLOSED", 10)
    form = page.locator("#wrap-up")
    await form.get_by_label("Disposition code").select_option("order_status")
    await form.get_by_label("Notes").fill(notes)
    await form.get_by_label("Resolved").check()
    await form.get_by_role("button", name="Done").click()
    await expect(page.locator("#state")).to_have_text("available")
    assert phone.result.recording is not None
    return phone.result.recording


async def test_customer_call_answered_in_chromium_with_history(
    server: dict[str, Any], tmp_path: Path
) -> None:
    tone = write_tone(tmp_path / "agent.wav", AGENT_HZ)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                          args=chromium_args(tone))  # fmt: skip
        try:
            page = await browser.new_page()
            await sign_in(page, server["url"], "agent1", "agent1pass")
            await page.get_by_role("button", name="Ready", exact=True).click()
            heard = await one_call(page, server, tmp_path / "call1", "first call: parcel late")
            # the last second before the hang-up is the agent's tone (PCMU, 8 kHz)
            assert max(goertzel_ratio(heard[i - 8000 : i], AGENT_HZ)
                       for i in range(8000, len(heard), 4000)) > 0.5  # fmt: skip

            await one_call(page, server, tmp_path / "call2", "second call",
                           history="first call: parcel late")  # fmt: skip
            assert server["pops"][-1]["history"][0]["notes"] == "first call: parcel late"
        finally:
            await browser.close()
