"""One listen turn over any stream of 20 ms frames: endpointing + streaming decoding.

The live call and the ``hotline asr transcribe`` command both run `run_turn`, so a
WAV file goes through exactly the code a caller's audio does.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import numpy as np

from .heard import Hypothesis, Outcome
from .stream import DecodeStream, Overloaded
from .vad import FRAME_S, Endpointer, Endpointing, NoInput, SpeechEnded, SpeechStarted


@dataclass(frozen=True)
class Turn:
    """What a turn produced before grammar interpretation."""

    outcome: Outcome
    hypothesis: Hypothesis | None = None
    latency_ms: float = 0.0
    onset_s: float | None = None  # speech onset, seconds from the first frame
    end_s: float | None = None  # when the end of the utterance was decided


async def run_turn(
    frames: AsyncIterator[np.ndarray],
    open_stream: Callable[[], DecodeStream],
    config: Endpointing,
    *,
    playing: Callable[[], bool] = lambda: False,
    barge_in: bool = True,
    on_onset: Callable[[], None] | None = None,
    end_is_hangup: bool = False,
    clock: Callable[[], float] = time.monotonic,
) -> Turn:
    """Listen until an utterance ends, nobody speaks, or the audio ends."""
    endpointer = Endpointer(config)
    preroll: deque[np.ndarray] = deque(maxlen=max(1, round(config.preroll / FRAME_S)))
    stream: DecodeStream | None = None
    try:
        async for frame in frames:
            prompt_on = playing()
            if prompt_on and not barge_in:
                continue  # the caller cannot interrupt: what they say over it is not an answer
            if stream is None:
                preroll.append(frame)
            else:
                stream.feed(frame)
            for event in endpointer.feed(frame, prompt_on):
                if isinstance(event, SpeechStarted):
                    stream = open_stream()
                    for early in preroll:
                        stream.feed(early)
                    if on_onset is not None:
                        on_onset()
                elif isinstance(event, SpeechEnded):
                    return await _final(stream, endpointer, event, clock)
                elif isinstance(event, NoInput):
                    return Turn("noinput")
        if end_is_hangup:
            return Turn("hangup")
        for event in endpointer.end_of_input():
            if isinstance(event, SpeechEnded):
                return await _final(stream, endpointer, event, clock)
        return Turn("noinput")
    finally:
        if stream is not None:
            stream.cancel()


async def _final(
    stream: DecodeStream | None,
    endpointer: Endpointer,
    event: SpeechEnded,
    clock: Callable[[], float],
) -> Turn:
    assert stream is not None
    onset = endpointer.onset * FRAME_S if endpointer.onset is not None else None
    started = clock()
    try:
        hypothesis = await stream.final()
    except Overloaded:
        return Turn("nomatch", None, 0.0, onset, event.frame * FRAME_S)
    latency_ms = (clock() - started) * 1000
    return Turn("match", hypothesis, latency_ms, onset, event.frame * FRAME_S)
