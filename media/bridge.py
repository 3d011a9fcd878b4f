"""Connect two calls' audio (caller <-> agent), and take them apart again.

Each leg's decoded, jitter-buffered frames are handed to the other leg's
outgoing source on the same 20 ms tick: no extra task, at most one frame of
added delay.  Conferences, supervisor listen/whisper/barge and hold with
music use :class:`media.mixer.Mixer` over the same frame sources.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from .call import Call

MAX_QUEUED = 5  # 100 ms: beyond this the far end is running fast; drop the oldest


class LiveSource:
    """A frame source fed by another leg's listener."""

    def __init__(self) -> None:
        self._frames: deque[np.ndarray] = deque(maxlen=MAX_QUEUED)
        self.muted = False

    def push(self, frame: np.ndarray) -> None:
        if not self.muted:
            self._frames.append(frame)

    def next_frame(self) -> np.ndarray | None:
        # An empty queue plays silence rather than ending the source.
        return self._frames.popleft() if self._frames else _SILENCE


_SILENCE = np.zeros(160, dtype=np.int16)


class CallBridge:
    """Two calls hearing each other; ``close()`` puts both back to silence."""

    def __init__(self, a: Call, b: Call) -> None:
        self.a, self.b = a, b
        self.to_a, self.to_b = LiveSource(), LiveSource()
        for call in (a, b):
            call.stop_playback()
            call.leg.attach_jitter_buffer()
        a.leg.listeners.append(self.to_b.push)
        b.leg.listeners.append(self.to_a.push)
        a.leg.source, b.leg.source = self.to_a, self.to_b

    def hold(self, call: Call, held: bool = True) -> None:
        """Mute what ``call`` says to the other side (the IVR may play to it meanwhile)."""
        (self.to_b if call is self.a else self.to_a).muted = held

    def close(self) -> None:
        for call, feed in ((self.a, self.to_b.push), (self.b, self.to_a.push)):
            if feed in call.leg.listeners:
                call.leg.listeners.remove(feed)
        if self.a.leg.source is self.to_a:
            self.a.leg.source = None
        if self.b.leg.source is self.to_b:
            self.b.leg.source = None


def bridge(a: Call, b: Call) -> CallBridge:
    """Let ``a`` and ``b`` hear each other until the bridge is closed."""
    return CallBridge(a, b)
