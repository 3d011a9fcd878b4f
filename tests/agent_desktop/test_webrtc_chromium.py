"""The agent's WebRTC audio against real headless Chromium: both directions, hold, mute, reload.

The caller is a real :class:`MediaLeg` under a :class:`Call`, fed PCMU packets of a
600 Hz tone and ticked every 20 ms by the test (the "phone"); Chromium's fake mic plays
1000 Hz.  The page is the softphone's own ``webrtc.js``; signalling is a plain POST here
(the desktop's WebSocket is tested elsewhere).  Tones are checked by frequency: the
page's WebAudio analyser for the caller's tone, a Goertzel filter on the packets the
caller receives for the agent's.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp import web
from playwright.async_api import Page, async_playwright

from media.codecs import get_codec
from media.prompts.player import Player
from media.webrtc import AgentMedia
from tests.agent_desktop.chromium import (
    AGENT_HZ,
    CALLER_HZ,
    CHROMIUM,
    Phone,
    agent_hears,
    caller_hears,
    chromium_args,
    goertzel_ratio,
    tone_frames,
    write_tone,
)
from tests.interop.conftest import free_port

pytestmark = pytest.mark.peer

STATIC = Path(__file__).parents[2] / "agent_desktop" / "static"
PCMU = get_codec("PCMU")
MUSIC_HZ = 400

HARNESS = """<!doctype html><audio id="out" autoplay></audio><script type="module">
import {AgentAudio} from '/static/webrtc.js';
const audio = window.audio = new AgentAudio(document.getElementById('out'));
window.startAudio = () => audio.start(async offer => (await fetch('/offer',
  {method: 'POST', body: JSON.stringify(offer)})).json());
window.harnessReady = true;
</script>"""


@pytest.fixture
async def rig(netns: None, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    media = AgentMedia("agent1")
    phone = Phone(tmp_path)

    async def offer(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({"type": "answer", "sdp": await media.accept_offer(body["sdp"])})

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=HARNESS, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_post("/offer", offer)
    app.router.add_static("/static", STATIC)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port((socket.SOCK_STREAM,))
    await web.TCPSite(runner, "127.0.0.1", port).start()
    ticker = asyncio.create_task(phone.run())
    tone = write_tone(tmp_path / "agent.wav", AGENT_HZ)
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=chromium_args(tone)
        )
        try:
            yield {"media": media, "phone": phone, "browser": browser,
                   "url": f"http://127.0.0.1:{port}/"}  # fmt: skip
        finally:
            await browser.close()
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            await media.close()
            await runner.cleanup()


async def open_softphone_audio(page: Page, url: str) -> None:
    await page.goto(url)
    await page.wait_for_function("window.harnessReady === true")
    await page.evaluate("startAudio()")
    await page.wait_for_function("audio.state === 'connected'", timeout=10_000)


async def test_audio_flows_both_ways_and_survives_a_reload(rig: dict[str, Any]) -> None:
    media, phone = rig["media"], rig["phone"]
    page = await rig["browser"].new_page()
    await open_softphone_audio(page, rig["url"])
    media.connect(phone.call)
    assert await agent_hears(page, CALLER_HZ), await page.evaluate("audio.peak()")
    assert await caller_hears(phone, AGENT_HZ), goertzel_ratio(phone.recent(), AGENT_HZ)

    await page.reload()  # the call stays connected; the page negotiates a new connection
    await open_softphone_audio(page, rig["url"])
    assert media.figures.negotiations == 2
    assert await agent_hears(page, CALLER_HZ)
    phone.heard.clear()
    assert await caller_hears(phone, AGENT_HZ)


async def test_hold_plays_music_and_mute_silences_the_agent(rig: dict[str, Any]) -> None:
    media, phone = rig["media"], rig["phone"]
    page = await rig["browser"].new_page()
    await open_softphone_audio(page, rig["url"])
    media.connect(phone.call)
    assert await caller_hears(phone, AGENT_HZ)

    music = tone_frames(MUSIC_HZ, 50)
    media.hold(True, Player(np.concatenate(music), loop=True))
    phone.heard.clear()
    assert await caller_hears(phone, MUSIC_HZ)
    media.hold(False)
    phone.heard.clear()
    assert await caller_hears(phone, AGENT_HZ)

    media.mute(True)
    await asyncio.sleep(0.3)
    phone.heard.clear()
    await asyncio.sleep(1.2)
    assert np.max(np.abs(phone.recent())) < 100  # PCMU's silence, not the agent's tone
    media.mute(False)
    assert await caller_hears(phone, AGENT_HZ)

    media.disconnect()
    await asyncio.sleep(0.3)
    phone.heard.clear()
    await asyncio.sleep(1.2)
    assert np.max(np.abs(phone.recent())) < 100
