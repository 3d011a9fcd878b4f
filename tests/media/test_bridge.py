"""Two calls bridged: decoded frames relayed leg to leg on the tick, hold, close.

Each side is a real :class:`MediaLeg` under a :class:`Call`, fed RTP packets and ticked
on a fake clock; what one caller says is compared with what the other side's packets
carry, decoded.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from media.bridge import CallBridge, LiveSource, bridge
from media.call import Call
from media.codecs import Codec, get_codec
from media.leg import FRAME_SAMPLES, MediaLeg
from media.prompts.audio import Prompt
from media.prompts.tts import PromptCache
from media.rtp.packet import RtpPacket

PCMU = get_codec("PCMU")


class Side:
    """One caller: a call on its own leg; ``say`` is what the caller's phone sends."""

    def __init__(self, name: str, prompts: PromptCache, codec: Codec = PCMU) -> None:
        self.codec = codec
        pt = codec.payload_type or 0
        self.leg = MediaLeg(codec, pt, 101, ("192.0.2.1", 4000), lambda d: None)
        self.records: list[dict[str, Any]] = []
        self.call = Call(name, "a", "b", self.leg, prompts, self.records.append, lambda: None)
        self.seq = 0

    def say(self, pcm: npt.NDArray[np.int16], now: float) -> None:
        self.seq += 1
        payload = self.codec.encode(pcm)
        packet = RtpPacket(self.leg.payload_type, self.seq, self.seq * 160, 0x5EED, payload)
        self.leg.receive(bytes(packet), ("192.0.2.1", 4000), now)

    def tick(self, now: float) -> npt.NDArray[np.int16]:
        """The frame this side's caller hears now, decoded."""
        packet = self.leg.tick(now)
        assert packet is not None
        return self.codec.decode(RtpPacket.parse(packet).payload)


def voice(index: int, who: int) -> npt.NDArray[np.int16]:
    """A frame recognisable by its level: ``who`` * 1000 + ``index`` * 100."""
    return np.full(FRAME_SAMPLES, who * 4000 + index * 100 + 100, dtype=np.int16)


def level(frame: npt.NDArray[np.int16]) -> int:
    return int(frame[0])


def quantized(frame: npt.NDArray[np.int16], codec: Codec = PCMU) -> int:
    return int(codec.decode(codec.encode(frame))[0])


@pytest.fixture
def prompts(tmp_path: Path) -> PromptCache:
    return PromptCache(tmp_path)


def run(a: Side, b: Side, frames: int, start: float = 0.0, *, a_talks: bool = True,
        b_talks: bool = True) -> tuple[list[int], list[int]]:  # fmt: skip
    """Both callers talk for ``frames`` frames; the levels each side hears, per tick."""
    heard_a: list[int] = []
    heard_b: list[int] = []
    for i in range(frames):
        now = start + i * 0.020
        if a_talks:
            a.say(voice(i, 1), now)
        if b_talks:
            b.say(voice(i, 2), now)
        heard_a.append(level(a.tick(now + 0.010)))
        heard_b.append(level(b.tick(now + 0.010)))
    return heard_a, heard_b


def test_each_side_hears_the_other_with_at_most_one_frame_of_delay(
    prompts: PromptCache,
) -> None:
    a, b = Side("a", prompts), Side("b", prompts)
    joined = bridge(a.call, b.call)
    assert isinstance(joined, CallBridge)
    heard_a, heard_b = run(a, b, 12)
    says_a = [quantized(voice(i, 1)) for i in range(12)]
    says_b = [quantized(voice(i, 2)) for i in range(12)]
    # A's jitter buffer plays frame i on tick i + 1; A ticks first, so B sends it on the
    # same tick.  B plays its frame i on tick i + 1 too, after A's tick: A hears it on
    # tick i + 2.  Jitter buffer (one frame) plus at most one frame of bridge delay.
    assert heard_b[:1] == [0] and heard_b[1:] == says_a[:11]
    assert heard_a[:2] == [0, 0] and heard_a[2:] == says_b[:10]


def test_bridging_transcodes_between_codecs(prompts: PromptCache) -> None:
    pcma = get_codec("PCMA")
    a, b = Side("a", prompts), Side("b", prompts, codec=pcma)
    bridge(a.call, b.call)
    _, heard_b = run(a, b, 6, b_talks=False)
    via_pcmu = [PCMU.decode(PCMU.encode(voice(i, 1))) for i in range(5)]
    assert heard_b[1:] == [quantized(frame, pcma) for frame in via_pcmu]


def test_hold_mutes_one_direction(prompts: PromptCache) -> None:
    a, b = Side("a", prompts), Side("b", prompts)
    joined = bridge(a.call, b.call)
    run(a, b, 4)
    joined.hold(a.call)
    heard_a, heard_b = run(a, b, 5, start=0.08)
    assert heard_b == [0] * 5  # nothing of A, not even what was queued
    assert all(heard_a)  # B still heard by A
    joined.hold(a.call, held=False)
    _, heard_b = run(a, b, 3, start=0.18)
    assert all(heard_b)
    joined.hold(b.call)
    heard_a, _ = run(a, b, 3, start=0.24)
    assert heard_a == [0] * 3
    stranger = Side("c", prompts)
    with pytest.raises(ValueError):
        joined.hold(stranger.call)


def test_close_restores_silence(prompts: PromptCache) -> None:
    a, b = Side("a", prompts), Side("b", prompts)
    joined = bridge(a.call, b.call)
    run(a, b, 4)
    joined.close()
    heard_a, heard_b = run(a, b, 4, start=0.08)
    assert heard_a == heard_b == [0] * 4
    assert a.leg.source is None and b.leg.source is None
    assert a.call.background is None and b.call.background is None
    assert a.leg.listeners == b.leg.listeners == []
    joined.close()  # twice is harmless


def test_a_side_with_no_input_plays_silence_rather_than_ending(prompts: PromptCache) -> None:
    a, b = Side("a", prompts), Side("b", prompts)
    bridge(a.call, b.call)
    heard_a, heard_b = run(a, b, 10, a_talks=False)
    assert heard_b == [0] * 10
    assert isinstance(b.leg.source, LiveSource)  # still bridged
    assert all(heard_a[2:])
    _, heard_b = run(a, b, 4, start=0.2)  # A starts talking late: B hears it
    assert heard_b[0] == 0 and heard_b[1:] == [quantized(voice(i, 1)) for i in range(3)]


async def test_prompt_to_a_held_side_hands_back_to_the_bridge(prompts: PromptCache) -> None:
    a, b = Side("a", prompts), Side("b", prompts)
    joined = bridge(a.call, b.call)
    joined.hold(b.call)
    prompt = Prompt(np.full(3 * FRAME_SAMPLES, 3000, dtype=np.int16), "please hold", "tone")
    task = asyncio.create_task(b.call.play(prompt))
    await asyncio.sleep(0)
    heard_a, heard_b = run(a, b, 6)
    for _ in range(3):
        await asyncio.sleep(0)
    assert task.result() is True
    assert heard_b[:3] == [quantized(prompt.pcm[:1])] * 3
    # The other caller again (A's silence before its first packet is heard too).
    assert heard_b[3:] and any(heard_b[3:])
    assert heard_b[3:] != [quantized(prompt.pcm[:1])] * 3
    assert heard_a == [0] * 6  # B is held


async def test_bridging_stops_a_prompt(prompts: PromptCache) -> None:
    a, b = Side("a", prompts), Side("b", prompts)
    prompt = Prompt(np.full(50 * FRAME_SAMPLES, 3000, dtype=np.int16), "menu", "tone")
    task = asyncio.create_task(a.call.play(prompt))
    await asyncio.sleep(0)
    a.tick(0.0)
    bridge(a.call, b.call)
    await asyncio.sleep(0)
    assert task.result() is False
    assert isinstance(a.leg.source, LiveSource)
