"""The aiortc audio track that carries the caller's voice to the agent's browser.

aiortc's sender awaits ``recv()`` in a loop, so the track paces itself: one 20 ms
48 kHz frame per period on absolute deadlines (no drift), like aiortc's own
``AudioStreamTrack``.  The frames come from a :class:`~media.bridge.LiveSource` the caller's
leg fills on the media engine's tick; both clocks are the loop's monotonic clock, so
the queue stays a frame or two deep.  Between calls the track sends silence and does
no resampling at all.
"""

from __future__ import annotations

import asyncio
import fractions

import av
from aiortc import MediaStreamTrack

from media.bridge import LiveSource

from .frames import WEBRTC_FRAME, WEBRTC_RATE, Upsampler

PERIOD = WEBRTC_FRAME / WEBRTC_RATE
TIME_BASE = fractions.Fraction(1, WEBRTC_RATE)
MAX_LATE = 0.2  # a stall longer than this restarts the schedule instead of bursting


class CallerAudioTrack(MediaStreamTrack):
    """Outgoing audio of one peer connection: whatever ``source`` holds, else silence."""

    kind = "audio"

    def __init__(self, source: LiveSource) -> None:
        super().__init__()
        self.source = source
        #: True while a call is connected; otherwise silence is sent without resampling
        self.live = False
        self._upsampler = Upsampler()
        self._start: float | None = None
        self._pts = 0

    async def recv(self) -> av.AudioFrame:
        await self._pace()
        if self.live:
            pcm = self._upsampler.convert(self.source.next_frame())
        else:
            pcm = Upsampler.silence()
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = WEBRTC_RATE
        frame.pts = self._pts
        frame.time_base = TIME_BASE
        return frame

    async def _pace(self) -> None:
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
            return
        self._pts += WEBRTC_FRAME
        wait = self._start + self._pts / WEBRTC_RATE - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        elif wait < -MAX_LATE:
            self._start = loop.time() - self._pts / WEBRTC_RATE
