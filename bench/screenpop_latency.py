"""Offer sent -> screen-pop visible in Chromium: p50/p95 over N offers (goal p95 <= 150 ms).

What is measured is the desktop's share of the path: the ACD's offer event (with a full
screen-pop: customer, orders, history, tickets, IVR path) leaves the desktop WebSocket
(``sent_at``, stamped just before the send) -> the page parses it, draws the panel and the
browser paints the next frame (``requestAnimationFrame`` then a task: the frame is on
screen).  Both stamps are the same machine's wall clock.  The offers come from the
scripted ACD of the desktop tests (the router's own decision time is routing's bench),
one at a time, each cancelled before the next, with the agent's WebRTC audio up as in
production.  Runs in a private loopback network namespace (needs root), like the tests.

    .venv/bin/python bench/screenpop_latency.py            # 50 offers
    .venv/bin/python bench/screenpop_latency.py --calls 200
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import web
from playwright.async_api import Page, async_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent_desktop.api import add_api  # noqa: E402
from agent_desktop.desktop import add_desktop  # noqa: E402
from hotline.config import Config  # noqa: E402
from hotline.store import open_store  # noqa: E402
from hotline.store.embedded import EmbeddedPostgres  # noqa: E402
from media.webrtc import use_host_addresses  # noqa: E402
from tests.agent_desktop.chromium import (  # noqa: E402
    CHROMIUM,
    Phone,
    chromium_args,
    loopback_namespace,
    write_tone,
)
from tests.agent_desktop.fake_acd import FakeAcd  # noqa: E402

GOAL_P95_MS = 150.0


def screen_pop(i: int) -> dict[str, Any]:
    """A realistic pop: five orders, five past contacts, two tickets, an IVR path."""
    statuses = ("shipped", "delivered", "processing", "returned", "cancelled")
    orders = [{"number": str(100200 + k), "status": s, "placed_at": f"2026-11-2{k}T10:00:00"}
              for k, s in enumerate(statuses)]  # fmt: skip
    history = [{"date": f"2026-10-{k + 1:02d}T09:00:00", "queue": "orders", "agent": "agent2",
                "disposition": "order_status", "notes": f"called about order {100200 + k}"}
               for k in range(5)]  # fmt: skip
    return {"status": "ok", "caller": {"number": "+48601000002", "name": f"James Carter {i}",
            "vip": i % 3 == 0, "known": True}, "vip": i % 3 == 0, "orders": orders,
            "last_order": orders[0], "history": history,
            "tickets": [{"id": 7, "subject": "Damaged lid", "status": "open", "priority": "high"},
                        {"id": 9, "subject": "Invoice copy", "status": "pending"}],
            "ivr": {"path": ["welcome", "menu", "orders", "queue"],
                    "inputs": [{"kind": "speech", "text": "where is my order"},
                               {"kind": "dtmf", "text": "100234"}]}}  # fmt: skip


async def measure(page: Page, acd: FakeAcd, phone: Phone, calls: int) -> list[float]:
    latencies = []
    for i in range(calls + 3):  # the first three warm the page up and are not counted
        offer_id = acd.offer("agent1", phone.call, screen_pop(i), {}, queue="orders")
        shown = await page.wait_for_function(f"window.hotline.popShown['{offer_id}']")
        value = await shown.json_value()
        acd.sessions["agent1"].publish(
            {"type": "offer_cancelled", "offer_id": offer_id, "reason": "abandoned"}
        )
        acd.state["agent1"]["offer"] = None
        if i >= 3:
            latencies.append(value["at"] - value["sent_at"] * 1000)
        await asyncio.sleep(0.05)
    return latencies


async def run(calls: int) -> list[float]:
    folder = Path(tempfile.mkdtemp(prefix="hotline-bench-pg-"))
    pg = EmbeddedPostgres(folder / "pg")
    url = await asyncio.to_thread(pg.start_blocking)
    store = await open_store(Config(database_url=url, data_dir=folder / "var"))
    runner: web.AppRunner | None = None
    try:
        await store.users.add_user("agent1", "agent1pass", "agent")
        acd = FakeAcd()
        app = web.Application()
        add_api(app, store)
        add_desktop(app, store.tokens, acd)
        runner = web.AppRunner(app)
        await runner.setup()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        await web.TCPSite(runner, "127.0.0.1", port).start()
        tone = write_tone(folder / "tone.wav", 1000, seconds=5)
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=chromium_args(tone))  # fmt: skip
            page = await browser.new_page()
            base = f"http://127.0.0.1:{port}"
            await page.goto(base + "/login")
            await page.get_by_label("Username").fill("agent1")
            await page.get_by_label("Password").fill("agent1pass")
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_function("window.hotline && window.hotline.connected")
            await page.wait_for_function("window.audio.state === 'connected'", timeout=10_000)
            await page.get_by_role("button", name="Ready", exact=True).click()
            latencies = await measure(page, acd, Phone(folder), calls)
            await browser.close()
        return latencies
    finally:
        if runner is not None:
            await runner.cleanup()
        await store.close()
        await asyncio.to_thread(pg.stop_blocking)


def report(latencies: list[float]) -> None:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    print(f"\nOffer sent -> screen-pop painted in Chromium ({len(ordered)} offers)\n")
    print(f"{'min':>8} {'p50':>8} {'p95':>8} {'max':>8} {'goal p95':>9}")
    print(f"{ordered[0]:8.1f} {p50:8.1f} {p95:8.1f} {ordered[-1]:8.1f} {GOAL_P95_MS:9.0f}   ms")
    print("\nPASS" if p95 <= GOAL_P95_MS else "\nOVER GOAL")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    started = time.monotonic()
    with loopback_namespace():
        use_host_addresses(["127.0.0.1"])
        latencies = asyncio.run(run(args.calls))
    report(latencies)
    print(f"(whole run {time.monotonic() - started:.1f} s)")


if __name__ == "__main__":
    main()
