"""Headless Chromium with a fake microphone, inside a loopback-only network namespace.

TESTING.md §3: Chromium's WebRTC may pick the machine's other interface even for a
loopback page, so browser tests run the server and the browser in a private network
namespace that has only ``lo`` (``--allow-loopback-in-peer-connection`` makes Chromium
gather 127.0.0.1; aiortc is pinned to offer 127.0.0.1).  Network namespaces belong to
a thread: the test's event-loop thread enters a new one, everything it starts
(servers, Chromium, SIP peers) is created inside it, and it comes back afterwards.
PostgreSQL is reached over its unix socket, which the namespace does not affect.
"""

from __future__ import annotations

import asyncio
import ctypes
import math
import os
import subprocess
import threading
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import numpy.typing as npt
from playwright.async_api import Page

from media.call import Call
from media.codecs import get_codec
from media.leg import MediaLeg
from media.prompts.tts import PromptCache
from media.rtp.packet import RtpPacket

CHROMIUM = "/usr/bin/chromium"
CLONE_NEWNET = 0x40000000

_libc = ctypes.CDLL(None, use_errno=True)


def chromium_args(tone: Path) -> list[str]:
    """The flags of TESTING.md §3: fake mic playing ``tone``, real loopback candidates."""
    return [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={tone}",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-features=WebRtcHideLocalIpsWithMdns",
        "--allow-loopback-in-peer-connection",
        "--autoplay-policy=no-user-gesture-required",
    ]


@contextmanager
def loopback_namespace() -> Iterator[None]:
    """Run the calling thread in a fresh network namespace with only ``lo`` up."""
    original = os.open(f"/proc/self/task/{threading.get_native_id()}/ns/net", os.O_RDONLY)
    try:
        if _libc.unshare(CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET) needs root/CAP_SYS_ADMIN")
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True, timeout=10)
        yield
    finally:
        if _libc.setns(original, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns back to the original network namespace")
        os.close(original)


def write_tone(path: Path, hz: float, seconds: float = 30.0, rate: int = 48000) -> Path:
    """A 0.5 full-scale sine WAV (what `sox synth sine vol 0.5` makes) for the fake mic."""
    t = np.arange(int(seconds * rate)) / rate
    pcm = (0.5 * 32767 * np.sin(2 * math.pi * hz * t)).astype(np.int16)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return path


def tone_frames(hz: float, frames: int, rate: int = 8000, level: float = 8000) -> list[np.ndarray]:
    """``frames`` consecutive 20 ms int16 frames of a continuous sine."""
    n = rate // 50
    t = np.arange(frames * n) / rate
    pcm = (level * np.sin(2 * math.pi * hz * t)).astype(np.int16)
    return [pcm[i * n : (i + 1) * n] for i in range(frames)]


def goertzel_ratio(pcm: npt.NDArray[np.int16], hz: float, rate: int = 8000) -> float:
    """Share of the signal's energy at ``hz`` (0..1): ~1 for a clean tone, ~0 for noise."""
    x = pcm.astype(np.float64)
    if not len(x) or not np.any(x):
        return 0.0
    k = 2 * math.pi * hz / rate
    coeff, s1, s2 = 2 * math.cos(k), 0.0, 0.0
    for sample in x:
        s1, s2 = sample + coeff * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    return float(2 * power / (len(x) * np.sum(x * x)))


CALLER_HZ, AGENT_HZ = 600, 1000
PCMU = get_codec("PCMU")


class Phone:
    """The caller's side of one leg, ticked in real time: says a tone, keeps what it hears."""

    def __init__(self, tmp: Path) -> None:
        self.leg = MediaLeg(PCMU, 0, 101, ("192.0.2.1", 4000), lambda d: None)
        self.call = Call("c1", "sip:+48601000001@x", "sip:hotline@x", self.leg,
                         PromptCache(tmp), lambda e: None, lambda: None)  # fmt: skip
        self.tone = tone_frames(CALLER_HZ, 50)
        self.heard: list[np.ndarray] = []
        self.dtmf_events: set[int] = set()
        self.seq = 0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        while True:
            now = loop.time()
            pcm = self.tone[self.seq % len(self.tone)]
            packet = RtpPacket(0, self.seq & 0xFFFF, self.seq * 160, 0x5EED, PCMU.encode(pcm))
            self.leg.receive(bytes(packet), ("192.0.2.1", 4000), now)
            out = self.leg.tick(now)
            if out is not None:
                packet = RtpPacket.parse(out)
                if packet.payload_type == 0:
                    self.heard.append(PCMU.decode(packet.payload))
                else:  # RFC 4733 telephone-event: the first octet is the key's code
                    self.dtmf_events.add(packet.payload[0])
            self.seq += 1
            await asyncio.sleep(max(0.0, start + self.seq * 0.020 - loop.time()))

    def recent(self, frames: int = 50) -> np.ndarray:
        return np.concatenate(self.heard[-frames:])


async def agent_hears(page: Page, hz: int) -> bool:
    """True once the page's analyser peaks at ``hz`` (within 5 s)."""
    for _ in range(50):
        peak = await page.evaluate("audio.peak()")
        if abs(peak["hz"] - hz) <= 15 and peak["db"] > -70:
            return True
        await asyncio.sleep(0.1)
    return False


async def caller_hears(phone: Phone, hz: int, seconds: float = 5.0) -> bool:
    """True once the last second the caller received is mostly ``hz``."""
    for _ in range(int(seconds * 10)):
        await asyncio.sleep(0.1)
        if len(phone.heard) >= 50 and goertzel_ratio(phone.recent(), hz) > 0.5:
            return True
    return False


async def sign_in(page: Page, url: str, username: str, password: str) -> None:
    """Through the login page to a connected softphone with its WebRTC audio up."""
    await page.goto(url + "/login")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await page.wait_for_url("**/softphone")
    await page.wait_for_function("window.hotline && window.hotline.connected")
    await page.wait_for_function("window.audio.state === 'connected'", timeout=10_000)
