"""8 kHz <-> 48 kHz frame conversion for the WebRTC leg, and its silence-when-empty queue."""

from __future__ import annotations

import numpy as np

from media.bridge import LiveSource
from media.webrtc.frames import (
    PHONE_FRAME,
    WEBRTC_FRAME,
    Downsampler,
    Upsampler,
)
from tests.agent_desktop.chromium import goertzel_ratio, tone_frames


def test_upsampler_gives_exact_frames_and_keeps_the_tone() -> None:
    up = Upsampler()
    out = [up.convert(f) for f in tone_frames(1000, 50)]
    assert all(len(f) == WEBRTC_FRAME and f.dtype == np.int16 for f in out)
    tail = np.concatenate(out[5:])
    assert goertzel_ratio(tail, 1000, rate=48000) > 0.9


def test_downsampler_takes_the_first_channel_into_20ms_frames() -> None:
    down = Downsampler()
    t = np.arange(48000) / 48000
    left = (8000 * np.sin(2 * np.pi * 700 * t)).astype(np.int16)
    stereo = np.stack([left, np.zeros_like(left)], axis=1).reshape(-1)  # interleaved
    frames: list[np.ndarray] = []
    for i in range(50):
        chunk = stereo[i * 2 * WEBRTC_FRAME : (i + 1) * 2 * WEBRTC_FRAME]
        frames += down.convert(chunk, 48000, 2)
    assert all(len(f) == PHONE_FRAME for f in frames)
    assert 48 <= len(frames) <= 50  # the filter holds back a few samples
    assert goertzel_ratio(np.concatenate(frames[3:]), 700) > 0.9


def test_downsampler_follows_a_new_rate() -> None:
    down = Downsampler()
    frames = down.convert(np.zeros(320 * 5, dtype=np.int16), 16000, 1)
    assert down.rate == 16000 and all(len(f) == PHONE_FRAME for f in frames)


def test_frame_queue_is_bounded_silent_when_empty_and_mutable() -> None:
    queue = LiveSource(max_queued=2)
    assert not queue.next_frame().any()
    for level in (1, 2, 3):
        queue.push(np.full(PHONE_FRAME, level, dtype=np.int16))
    assert queue.dropped == 1
    assert queue.next_frame()[0] == 2  # the oldest was dropped
    queue.mute(True)
    queue.push(np.full(PHONE_FRAME, 9, dtype=np.int16))
    assert len(queue) == 0 and not queue.next_frame().any()
