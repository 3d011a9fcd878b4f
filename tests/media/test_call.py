"""The Call API over a real MediaLeg, driven tick by tick on a fake clock (no engine).

Prompts are tones built with :mod:`media.prompts.tones` (one test renders real speech
through a :class:`PromptCache` with espeak-ng).  Digits arrive as RFC 4733 packets fed
to the leg, the way the engine would hand them over.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from media.call import AUDIO_QUEUE_FRAMES, Call, Hangup
from media.codecs import get_codec
from media.dtmf.events import DtmfDigit
from media.dtmf.rfc4733 import TelephoneEventSender, parse_payload
from media.leg import FRAME_SAMPLES, SILENT_FRAME, MediaLeg
from media.prompts.audio import Prompt, encode_wav
from media.prompts.tones import beep
from media.prompts.tts import PromptCache
from media.rtp.packet import RtpPacket

PEER = ("192.0.2.20", 30000)
PCMU = get_codec("PCMU")
SILENCE = PCMU.encode(np.zeros(FRAME_SAMPLES, dtype=np.int16))


def tone(ms: int, hz: float = 1000) -> Prompt:
    return Prompt(beep(ms, hz), f"beep {ms} ms", "tone")


class Harness:
    """A call on a real leg; ``tick`` advances the fake clock one 20 ms frame."""

    def __init__(self, prompts: PromptCache) -> None:
        self.records: list[dict[str, Any]] = []
        self.hangups = 0
        self.leg = MediaLeg(PCMU, 0, 101, PEER, lambda digit: None, sequence=0, timestamp=0)
        self.call = Call(
            "call-1", "sip:alice@example.com", "sip:hotline@example.com", self.leg,
            prompts, self.records.append, self._hangup,
        )  # fmt: skip
        self.now = 0.0
        self.rx_seq = 0

    def _hangup(self) -> None:
        self.hangups += 1
        self.call.closed("local_bye")

    def tick(self, frames: int = 1) -> list[RtpPacket]:
        out = []
        for _ in range(frames):
            packet = self.leg.tick(self.now)
            self.now += 0.020
            if packet is not None:
                out.append(RtpPacket.parse(packet))
        return out

    def receive(
        self, payload: bytes, pt: int = 0, ts: int | None = None, marker: bool = False
    ) -> None:
        self.rx_seq += 1
        timestamp = self.rx_seq * FRAME_SAMPLES if ts is None else ts
        packet = RtpPacket(pt, self.rx_seq, timestamp, 0xBEEF, payload, marker)
        self.leg.receive(bytes(packet), PEER, self.now)

    def press(self, digit: str, ts: int = 80_000) -> list[RtpPacket]:
        """The caller presses ``digit``: RFC 4733 packets in, one tick after each."""
        out = []
        for p in TelephoneEventSender(101).packets(digit, ts, duration_ms=60):
            self.receive(p.payload, pt=101, ts=p.timestamp, marker=p.marker)
            out += self.tick()
        return out


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    return Harness(PromptCache(tmp_path / "prompts"))


async def settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


def decoded(packets: list[RtpPacket]) -> npt.NDArray[np.int16]:
    return np.concatenate([PCMU.decode(p.payload) for p in packets])


# -- prompts ----------------------------------------------------------------------------


async def test_play_returns_true_at_the_end_and_records_the_prompt(harness: Harness) -> None:
    prompt = tone(100)
    task = asyncio.create_task(harness.call.play(prompt))
    await settle()
    packets = harness.tick(5)
    await settle()
    assert not task.done()  # the player says it is finished on the next frame
    tail = harness.tick(2)
    await settle()
    assert task.done() and task.result() is True
    np.testing.assert_array_equal(decoded(packets), PCMU.decode(PCMU.encode(prompt.pcm)))
    assert [p.payload for p in tail] == [SILENCE, SILENCE]
    assert harness.records == [{"type": "prompt", "tone": "beep 100 ms"}]


async def test_play_a_wav_file(harness: Harness, tmp_path: Path) -> None:
    path = tmp_path / "hello.wav"
    path.write_bytes(encode_wav(beep(60)))
    task = asyncio.create_task(harness.call.play(path))
    while harness.leg.source is None:
        await asyncio.sleep(0.001)
    harness.tick(4)
    await settle()
    assert task.result() is True
    assert harness.records == [{"type": "prompt", "file": str(path)}]


async def test_say_renders_with_espeak_and_plays(harness: Harness) -> None:
    task = asyncio.create_task(harness.call.say("Thank you for calling"))
    packets: list[RtpPacket] = []
    async with asyncio.timeout(30):
        while not task.done():
            packets += harness.tick()
            await asyncio.sleep(0 if harness.leg.source is not None else 0.01)
    assert task.result() is True
    speech = [p for p in packets if p.payload != SILENCE]
    assert len(speech) > 25  # over half a second of speech
    assert harness.records == [{"type": "prompt", "text": "Thank you for calling"}]
    await harness.call.prompts.aclose()


async def test_barge_in_stops_the_prompt_within_a_tick(harness: Harness) -> None:
    task = asyncio.create_task(harness.call.play(tone(2000), barge_in=True))
    await settle()
    assert all(p.payload != SILENCE for p in harness.tick(5))
    # Two updates, then the first end packet completes the digit: the very next
    # packet we send is silence.
    packets = harness.press("5")
    await settle()
    assert task.done() and task.result() is False
    assert [p.payload == SILENCE for p in packets] == [False, False, True, True, True]
    event = await harness.call.next_event(timeout=0.1)
    assert isinstance(event, DtmfDigit) and event.digit == "5" and event.source == "rfc4733"
    assert {"type": "dtmf", "digit": "5", "source": "rfc4733"} in harness.records


async def test_without_barge_in_the_digit_waits_and_the_prompt_plays_on(
    harness: Harness,
) -> None:
    prompt = tone(200)
    task = asyncio.create_task(harness.call.play(prompt))
    await settle()
    packets = harness.tick(2) + harness.press("9")  # 5 more ticks
    await settle()
    assert not task.done()
    packets += harness.tick(4)
    await settle()
    assert task.result() is True
    np.testing.assert_array_equal(decoded(packets[:10]), PCMU.decode(PCMU.encode(prompt.pcm)))
    event = await harness.call.next_event(timeout=0.1)
    assert isinstance(event, DtmfDigit) and event.digit == "9"


async def test_a_new_prompt_interrupts_the_one_playing(harness: Harness) -> None:
    first = asyncio.create_task(harness.call.play(tone(1000)))
    await settle()
    harness.tick(3)
    second = asyncio.create_task(harness.call.play(tone(40, hz=500)))
    await settle()
    assert first.result() is False
    harness.tick(3)
    await settle()
    assert second.result() is True


async def test_cancelled_play_stops_the_prompt(harness: Harness) -> None:
    task = asyncio.create_task(harness.call.play(tone(2000)))
    await settle()
    harness.tick(2)
    task.cancel()
    await settle()
    assert task.cancelled()
    assert [p.payload for p in harness.tick(2)] == [SILENCE, SILENCE]


async def test_closed_ends_playback_and_events(harness: Harness) -> None:
    task = asyncio.create_task(harness.call.play(tone(2000), barge_in=True))
    await settle()
    harness.tick(3)
    harness.call.closed("remote_bye")
    harness.call.closed("local_bye")  # only the first counts
    await settle()
    assert task.result() is False
    events = [event async for event in harness.call.events()]
    assert events == [Hangup("remote_bye")]
    assert harness.call.end_reason == "remote_bye"
    # After the end: at once, without rendering or playing anything.
    assert await harness.call.say("Goodbye") is False
    assert await harness.call.play(tone(100)) is False
    assert harness.call.prompts.renders == 0
    # The hang-up stays visible to whoever asks again.
    assert await harness.call.next_event(timeout=1) == Hangup("remote_bye")
    assert [event async for event in harness.call.events()] == [Hangup("remote_bye")]


async def test_events_deliver_digits_then_the_hangup(harness: Harness) -> None:
    harness.press("1", ts=1000)
    harness.press("2", ts=5000)
    harness.call.closed("remote_bye")
    events = [event async for event in harness.call.events()]
    assert [type(e).__name__ for e in events] == ["DtmfDigit", "DtmfDigit", "Hangup"]
    assert [e.digit for e in events if isinstance(e, DtmfDigit)] == ["1", "2"]


async def test_next_event_times_out(harness: Harness) -> None:
    assert await harness.call.next_event(timeout=0.01) is None


async def test_hangup_asks_the_server_and_waits(harness: Harness) -> None:
    await asyncio.wait_for(harness.call.hangup(), 1)
    await harness.call.hangup()  # again: already over, no second BYE
    assert harness.hangups == 1
    assert harness.call.ended.is_set()


# -- the caller's audio -----------------------------------------------------------------


async def collect(frames: AsyncIterator[npt.NDArray[np.int16]]) -> list[npt.NDArray[np.int16]]:
    return [frame async for frame in frames]


async def test_audio_frames_until_the_call_ends(harness: Harness) -> None:
    consumer = asyncio.create_task(collect(harness.call.audio_frames()))
    await settle()
    assert harness.leg.jitter is not None  # decoding started for the consumer
    pcm = np.arange(8 * FRAME_SAMPLES, dtype=np.int16) * 3
    for i in range(8):
        harness.receive(PCMU.encode(pcm[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES]))
        harness.now += 0.010
        harness.tick()
        harness.now -= 0.010
        await settle()
    harness.tick()
    await settle()
    harness.call.closed("remote_bye")
    frames = await asyncio.wait_for(consumer, 1)
    audio = [frame for frame in frames if frame is not SILENT_FRAME]  # before playout began
    assert len(audio) >= 8
    np.testing.assert_array_equal(np.concatenate(audio[:8]), PCMU.decode(PCMU.encode(pcm)))
    assert harness.leg.listeners == []  # nobody listens any more


async def test_a_slow_consumer_loses_old_frames_not_memory(harness: Harness) -> None:
    frames = harness.call.audio_frames()
    first = asyncio.ensure_future(anext(frames))
    await settle()
    total = 4 * AUDIO_QUEUE_FRAMES
    for i in range(total):  # four seconds of audio while the consumer sleeps
        harness.receive(PCMU.encode(np.full(FRAME_SAMPLES, i * 10, dtype=np.int16)))
        harness.now += 0.010
        harness.tick()
        harness.now -= 0.010
    queue = harness.call._audio[0]
    assert queue.qsize() <= AUDIO_QUEUE_FRAMES
    harness.call.closed("remote_bye")
    got = [await first] + [frame async for frame in frames]
    assert len(got) <= AUDIO_QUEUE_FRAMES + 1
    levels = [int(PCMU.encode(f)[0]) for f in got]
    assert levels[-1] == int(PCMU.encode(np.full(1, (total - 2) * 10, np.int16))[0])


async def test_two_consumers_each_get_every_frame(harness: Harness) -> None:
    a = asyncio.create_task(collect(harness.call.audio_frames()))
    b = asyncio.create_task(collect(harness.call.audio_frames()))
    await settle()
    for _ in range(5):
        harness.receive(PCMU.encode(np.full(FRAME_SAMPLES, 1000, np.int16)))
        harness.tick()
        await settle()
    harness.call.closed("remote_bye")
    got_a, got_b = await asyncio.wait_for(asyncio.gather(a, b), 1)
    assert len(got_a) == len(got_b) >= 3
    assert harness.leg.listeners.count(harness.call._feed_audio) == 0


# -- output -----------------------------------------------------------------------------


async def test_send_dtmf_queues_two_rfc4733_events(harness: Harness) -> None:
    harness.call.send_dtmf("12", duration_ms=60)
    packets = harness.tick(12)
    events = [p for p in packets if p.payload_type == 101]
    assert len(events) == 10
    assert [parse_payload(p.payload)[0].event for p in events] == [1] * 5 + [2] * 5
    assert len({p.timestamp for p in events[:5]}) == 1
    assert events[5].timestamp == events[0].timestamp + 5 * FRAME_SAMPLES
    assert packets[-1].payload_type == 0
    with pytest.raises(ValueError):
        harness.call.send_dtmf("3x")
    assert {p.payload_type for p in harness.tick(5)} == {0}  # not even the "3"
