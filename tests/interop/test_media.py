"""The media path with real peers: baresip hears our prompts and sends RFC 4733 DTMF,
SIPp plays captured A-law speech and DTMF, and a scripted RTP sender's injected loss
and jitter show up in the call record's quality figures.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import socket
import struct
import subprocess
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hotline.app import Hotline
from hotline.config import Config
from hotline.demo_ivr import GREETING
from hotline.store import CallRecord

from .baresip import Baresip
from .conftest import SCENARIOS, free_port, wait_for
from .test_sipp import sip_target

pytestmark = pytest.mark.peer


@pytest.fixture
async def demo(hotline_config: Config) -> AsyncIterator[Hotline]:
    config = dataclasses.replace(hotline_config, demo=True, record=True)
    async with Hotline(config) as running:
        yield running


async def last_ended_call(hotline: Hotline, timeout: float = 15.0) -> CallRecord:
    assert hotline.store is not None
    store = hotline.store

    async def ended() -> CallRecord | None:
        records = await store.calls.recent(limit=1)
        if records and records[0].state == "ended" and records[0].quality:
            return records[0]
        return None

    record = await wait_for(ended, timeout)
    assert record is not None, "no ended call with quality figures in the store"
    return record


def speech_wav(path: Path, text: str, pad_s: float = 30.0) -> Path:
    """espeak-ng speech as 8 kHz mono S16 (baresip's PCMU microphone), then silence."""
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-w", str(raw), text], check=True)
    subprocess.run(
        [
            "sox",
            str(raw),
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            "-e",
            "signed-integer",
            str(path),
            "pad",
            "0",
            str(pad_s),
        ],
        check=True,
    )
    return path


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels()) == (8000, 1)
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)


def best_correlation(recording: np.ndarray, reference: np.ndarray) -> float:
    """Peak normalized cross-correlation of ``reference`` anywhere in ``recording``."""
    ref = reference.astype(np.float64)
    rec = recording.astype(np.float64)
    n = len(rec) + len(ref)
    spectrum = np.fft.rfft(rec, n) * np.conj(np.fft.rfft(ref, n))
    corr = np.fft.irfft(spectrum, n)[: len(rec)]
    window = np.convolve(rec**2, np.ones(len(ref)), mode="full")[
        len(ref) - 1 : len(ref) - 1 + len(rec)
    ]
    norm = np.sqrt(np.maximum(window, 1e-9) * np.sum(ref**2))
    return float(np.max(corr / norm))


async def test_baresip_hears_the_greeting_and_its_digits_are_recorded(
    demo: Hotline, tmp_path: Path
) -> None:
    source = speech_wav(tmp_path / "mic.wav", "Hello, I would like to check my order.")
    ports = (free_port(), free_port(), 31000 + random.randrange(0, 500) * 40)
    async with Baresip(tmp_path / "baresip", source, ports) as phone:
        assert await phone.dial(f"sip:hotline@{sip_target(demo)}"), phone.result.events
        await asyncio.sleep(8.0)  # the greeting plays to the end
        for digit in "42#":
            await phone.press(digit)
            await asyncio.sleep(2.5)
        closed = await phone.wait_for("CALL_CLOSED", 15)
    assert closed, phone.result.log
    record = await last_ended_call(demo)

    digits = [e["digit"] for e in record.events if e["type"] == "dtmf"]
    assert digits == ["4", "2", "#"]
    prompts = [e["text"] for e in record.events if e["type"] == "prompt"]
    assert prompts == [
        GREETING,
        "You pressed four.",
        "You pressed two.",
        "Thank you for calling. Goodbye.",
    ]
    assert record.end_reason == "local_bye"
    assert record.quality["packets_received"] > 400  # baresip's microphone reached us
    assert record.quality["loss_pct"] == 0

    heard = phone.result.recording
    assert heard is not None and len(heard) > 8000 * 8
    assert float(np.sqrt(np.mean(heard[: 8000 * 5].astype(np.float64) ** 2))) > 300
    assert demo.sip is not None
    greeting = await demo.sip.server.prompts.speech(GREETING)
    assert best_correlation(heard[: 8000 * 10], greeting.pcm[: 8000 * 3]) > 0.8

    # The call's stereo recording: the caller left, what the caller heard right.
    [recording] = [e["file"] for e in record.events if e["type"] == "recording"]
    with wave.open(recording) as w:
        assert (w.getnchannels(), w.getframerate(), w.getsampwidth()) == (2, 8000, 2)
        stereo = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).reshape(-1, 2)
    assert len(stereo) > 8000 * 12
    caller, ours = stereo[:, 0].astype(np.float64), stereo[:, 1]
    assert np.sqrt(np.mean(caller[: 8000 * 2] ** 2)) > 300  # baresip's speech at the start
    assert best_correlation(ours[: 8000 * 10], greeting.pcm[: 8000 * 3]) > 0.95


async def test_sipp_pcap_speech_and_rfc4733_digits_arrive_in_order(
    demo: Hotline, run_sipp: Any
) -> None:
    result = await run_sipp(
        "-sf",
        str(SCENARIOS / "pcap_dtmf.xml"),
        sip_target(demo),
        "-m",
        "1",
        "-mp",
        str(free_port()),
        timeout=60,
    )
    assert result.rc == 0, result.log
    record = await last_ended_call(demo)
    assert [e["digit"] for e in record.events if e["type"] == "dtmf"] == ["1", "5", "9", "*", "0"]
    assert record.quality["codec"] == "PCMA"
    # g711a.pcap holds 236 voice packets; RFC 3550 A.1 probation does not count a new
    # source's first packets.
    assert record.quality["packets_received"] >= 230


class ScriptedSender:
    """Sends 20 ms PCMU packets with scripted loss and arrival jitter to one RTP port."""

    def __init__(self, port: int, loss_every: int, jitter_ms: float) -> None:
        self.addr = ("127.0.0.1", port)
        self.loss_every = loss_every
        self.jitter = jitter_ms / 1000
        self.sent = 0
        self.dropped = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    async def run(self, packets: int) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.05
        rng = random.Random(7)
        payload = bytes([0xFF]) * 160
        for seq in range(1, packets + 1):
            if seq % self.loss_every == 0:
                self.dropped += 1
                continue
            due = start + seq * 0.020 + rng.uniform(0, self.jitter)
            await asyncio.sleep(max(0.0, due - loop.time()))
            header = struct.pack("!BBHII", 0x80, 0, seq, seq * 160, 0x1234)
            self.sock.sendto(header + payload, self.addr)
            self.sent += 1
        self.sock.close()


async def test_injected_loss_and_jitter_appear_in_the_call_record(
    hotline: Hotline, run_sipp: Any
) -> None:
    call = asyncio.create_task(
        run_sipp(
            "-sn",
            "uac",
            sip_target(hotline),
            "-m",
            "1",
            "-d",
            "5000",
            "-mp",
            str(free_port()),
            timeout=30,
        )
    )
    assert hotline.sip is not None
    engine = hotline.sip.server.engine

    async def rtp_port() -> int | None:
        return next(iter(engine.ports), None)

    port = await wait_for(rtp_port)
    assert port is not None
    sender = ScriptedSender(port, loss_every=20, jitter_ms=30)
    await sender.run(201)  # the last one arrives, so the loss of #200 is visible
    result = await call
    assert result.rc == 0, result.log
    record = await last_ended_call(hotline)
    quality = record.quality
    assert quality["packets_received"] == sender.sent == 191
    assert quality["packets_lost"] == sender.dropped == 10
    assert quality["loss_pct"] == pytest.approx(5.0, abs=0.01)
    # Uniform 0-30 ms extra delay: RFC 3550 A.8 jitter ~ E|D| = 10 ms (plus scheduling noise).
    assert 5.0 < quality["jitter_ms"] < 25.0
    assert 1.0 < quality["mos"] < 4.5
