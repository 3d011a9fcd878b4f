"""Speech latency: end of speech -> final result (p50/p95), real-time factor per stream, and
how many concurrent digit-grammar streams one worker thread (one core) keeps at real time.

    .venv/bin/python bench/asr_latency.py [--streams 5,10,20]

Streams are paced like live calls (a 20 ms frame every 20 ms); a stream whose decoder
falls 1 s behind degrades to "no match" (counted as overload). "One core": the service runs
one decode thread (pocketsphinx holds the GIL while it decodes, so more threads in one
process buy nothing); run under ``taskset -c 0`` so the event loop shares that core too.
Two onset patterns: all streams start (and so end) within 0.1 s of each other — the worst
case, every end-of-speech queues behind the others — and onsets spread evenly over 4 s
(independent calls).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np

from asr import Grammar, SpeechService
from asr.audio import frames, join, read_wav, silence
from asr.engines import sphinx

SOUNDS = Path("/usr/share/asterisk/sounds/en/digits")


async def paced(pcm: np.ndarray, start: float) -> AsyncIterator[np.ndarray]:
    loop = asyncio.get_running_loop()
    for i, frame in enumerate(frames(np.concatenate([silence(0.3), pcm, silence(1.2)]))):
        delay = start + i * 0.02 - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        yield frame


def utterance(i: int) -> np.ndarray:
    digits = f"{(i * 7919) % 10000:04d}"
    return join([read_wav(SOUNDS / f"{d}.wav") for d in digits], gap=0.3)


async def concurrent(n: int, spread: float) -> tuple[list[float], int, float]:
    speech = SpeechService(workers=1)
    await speech.start()
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.1
    cpu0 = time.process_time()
    results = await asyncio.gather(
        *(
            speech.recognize(
                paced(utterance(i), start + (spread * i / n if spread else (i % 50) * 0.002)),
                Grammar.digits(4, 8),
            )
            for i in range(n)
        )
    )
    cpu = time.process_time() - cpu0
    await speech.stop()
    latencies = [h.latency_ms for h in results if h.outcome != "nomatch" or h.text]
    overloads = sum(1 for h in results if h.outcome == "nomatch" and not h.text)
    return latencies, overloads, cpu


async def rtf() -> float:
    speech = SpeechService(workers=1)
    await speech.start()
    from asr.audio import aiter_frames

    audio = decode = 0.0
    for i in range(10):
        pcm = utterance(i)
        t = time.perf_counter()
        await speech.recognize(aiter_frames(pcm), Grammar.digits(4, 8), max_backlog=None)
        decode += time.perf_counter() - t
        audio += len(pcm) / 8000 + 1.3
    await speech.stop()
    return decode / audio


async def main(counts: list[int]) -> None:
    # a server sizes its warm decoder pool for the concurrency it expects (a decoder takes
    # ~125 ms to create: made on demand by 20 streams at once they would fall behind)
    sphinx.PREWARM = max(counts)
    factor = await rtf()
    print(
        f"real-time factor per stream (digits grammar, one thread): {factor:.3f}"
        f"  -> ~{1 / factor:.0f} streams per core by CPU"
    )
    print(
        f"{'onsets':>12} {'streams':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}"
        f" {'overload':>9} {'cpu s':>7}"
    )
    for spread, label in ((0.0, "together"), (4.0, "over 4 s")):
        for n in counts:
            lat, over, cpu = await concurrent(n, spread)
            if not lat:
                print(f"{label:>12} {n:>8} {'-':>8} {'-':>8} {'-':>8} {over:>9} {cpu:>7.1f}")
                continue
            q = statistics.quantiles(lat, n=20, method="inclusive") if len(lat) > 1 else lat * 19
            print(
                f"{label:>12} {n:>8} {statistics.median(lat):>8.0f} {q[18]:>8.0f}"
                f" {max(lat):>8.0f} {over:>9} {cpu:>7.1f}"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", default="1,5,10,20")
    asyncio.run(main([int(n) for n in parser.parse_args().streams.split(",")]))
