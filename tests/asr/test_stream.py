"""Decoding off the loop: order, bounded backlog (overload -> no match), cancel frees the worker."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from asr import Grammar
from asr.engines.base import Engine, Recognizer
from asr.heard import Hypothesis
from asr.stream import DecodeStream, Overloaded


class CountingRecognizer(Recognizer):
    def __init__(self, gate: threading.Event) -> None:
        super().__init__(8000)  # passthrough: the frame count is exact
        self.gate = gate
        self.frames: list[int] = []
        self.calls: list[int] = []  # frames per decode call

    def decode(self, pcm: np.ndarray) -> None:
        self.gate.wait(5)
        self.frames.extend(int(x) for x in pcm[::160])
        self.calls.append(len(pcm) // 160)

    def partial(self) -> str:
        return str(len(self.frames))

    def finish(self) -> Hypothesis:
        return Hypothesis(" ".join(map(str, self.frames)), 0.9)


class FakeEngine(Engine):
    name = "fake"

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.gate.set()
        self.in_use = 0
        self.released = threading.Event()

    def languages(self) -> tuple[str, ...]:
        return ("en",)

    def acquire(self, grammar: Grammar, language: str) -> Recognizer:
        self.in_use += 1
        self.last = CountingRecognizer(self.gate)
        return self.last

    def release(self, recognizer: Recognizer) -> None:
        self.in_use -= 1
        self.released.set()


def frame(n: int) -> np.ndarray:
    return np.full(160, n, dtype=np.int16)


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2) as pool:
        yield pool


async def test_frames_reach_the_recognizer_in_order(executor: ThreadPoolExecutor) -> None:
    engine = FakeEngine()
    stream = DecodeStream(engine, Grammar.free(), "en", executor, max_backlog=None)
    for n in range(200):
        stream.feed(frame(n))
    hyp = await stream.final()
    assert hyp.text == " ".join(map(str, range(200)))
    assert engine.in_use == 0


async def test_frames_are_decoded_in_batches_and_the_rest_at_the_end(
    executor: ThreadPoolExecutor,
) -> None:
    # one call per 20 ms frame costs the front end as much as the decoding itself
    engine = FakeEngine()
    stream = DecodeStream(engine, Grammar.digits(), "en", executor, max_backlog=None)
    for n in range(23):
        stream.feed(frame(n))
        await asyncio.sleep(0)  # let the worker keep up, as it would between live frames
        while stream._job is not None:
            await asyncio.wait({stream._job})
    hyp = await stream.final()
    assert hyp.text == " ".join(map(str, range(23)))
    assert engine.last.calls == [5, 5, 5, 5, 3]


async def test_a_stalled_decoder_degrades_to_overload_and_frees_itself(
    executor: ThreadPoolExecutor,
) -> None:
    engine = FakeEngine()
    engine.gate.clear()  # the decoder hangs
    stream = DecodeStream(engine, Grammar.digits(), "en", executor, max_backlog=50)
    for n in range(60):  # the loop never waits: feed returns at once
        stream.feed(frame(n))
    assert stream.overloaded
    engine.gate.set()
    with pytest.raises(Overloaded):
        await stream.final()
    await asyncio.get_running_loop().run_in_executor(None, engine.released.wait, 5)
    assert engine.in_use == 0


async def test_cancel_frees_the_decoder_and_drops_the_backlog(
    executor: ThreadPoolExecutor,
) -> None:
    engine = FakeEngine()
    engine.gate.clear()
    stream = DecodeStream(engine, Grammar.digits(), "en", executor, max_backlog=None)
    for n in range(30):
        stream.feed(frame(n))
    stream.cancel()  # hang-up while a job is in flight
    engine.gate.set()
    await asyncio.get_running_loop().run_in_executor(None, engine.released.wait, 5)
    assert engine.in_use == 0
