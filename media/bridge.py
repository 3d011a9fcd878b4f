"""Connect two calls' audio (caller <-> agent), and take them apart again.

Each leg's decoded, jitter-buffered frames are handed to the other leg's
outgoing source on the same 20 ms tick: no extra task, at most one frame of
added delay.  The bridge is each call's *background* source, so a prompt
played to one side (while held, say) hands back to the bridge when it ends.
Conferences, supervisor listen/whisper/barge and hold with music use
:class:`media.mixer.Mixer` over the same frame sources.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from .call import Call
from .leg import SILENT_FRAME

MAX_QUEUED = 5  # 100 ms: beyond this the far end is running fast; drop the oldest


class LiveSource:
    """A bounded queue of 20 ms frames fed by another leg's listener.

    A :class:`media.leg.FrameSource` that never ends: an empty (or muted) queue plays
    silence, so the leg keeps sending packets.  A full queue means the far end runs fast
    (or the reader fell behind): the oldest frame goes, so the delay stays bounded.
    """

    def __init__(self, max_queued: int = MAX_QUEUED) -> None:
        self._frames: deque[np.ndarray] = deque(maxlen=max_queued)
        self.muted = False
        self.dropped = 0

    def push(self, frame: np.ndarray) -> None:
        if self.muted:
            return
        if len(self._frames) == self._frames.maxlen:
            self.dropped += 1
        self._frames.append(frame)

    def mute(self, muted: bool) -> None:
        """Stop (or resume) passing frames; muting drops what is queued, too."""
        self.muted = muted
        if muted:
            self._frames.clear()

    def clear(self) -> None:
        self._frames.clear()

    def __len__(self) -> int:
        return len(self._frames)

    def next_frame(self) -> np.ndarray:
        return self._frames.popleft() if self._frames else SILENT_FRAME


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
        a.background, b.background = self.to_a, self.to_b

    def hold(self, call: Call, held: bool = True) -> None:
        """Mute what ``call`` says to the other side (the IVR may play to it meanwhile)."""
        if call is self.a:
            self.to_b.mute(held)
        elif call is self.b:
            self.to_a.mute(held)
        else:
            raise ValueError(f"call {call.call_id} is not in this bridge")

    def close(self) -> None:
        """Both calls back to silence (a prompt playing now goes on, then silence)."""
        for call, feed, source in (
            (self.a, self.to_b.push, self.to_a),
            (self.b, self.to_a.push, self.to_b),
        ):
            if feed in call.leg.listeners:
                call.leg.listeners.remove(feed)
            if call.background is source:
                call.background = None


def bridge(a: Call, b: Call) -> CallBridge:
    """Let ``a`` and ``b`` hear each other until the bridge is closed."""
    return CallBridge(a, b)
