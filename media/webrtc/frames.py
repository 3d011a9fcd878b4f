"""Frame conversion between the telephone side (8 kHz, 20 ms int16) and WebRTC (48 kHz).

Sans-IO: no aiortc, no clock.  The caller's decoded frames are queued by the media
engine's tick and taken out, upsampled, by the browser track's own 20 ms pacing; the
browser's decoded frames are downsampled into 20 ms telephone frames that the caller's
leg plays as its background source.  Both queues are bounded (a late reader loses the
oldest audio and so keeps the delay at a few frames) and never end: an empty queue is
silence, so the leg keeps sending packets.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from media.codecs.resample import StreamResampler

Pcm = npt.NDArray[np.int16]

PHONE_RATE = 8000
WEBRTC_RATE = 48000
PHONE_FRAME = 160  # 20 ms at 8 kHz
WEBRTC_FRAME = 960  # 20 ms at 48 kHz
#: frames queued each way (a media.bridge.LiveSource); 80 ms: more means the reader
#: fell behind, and the oldest goes
MAX_QUEUED = 4

_SILENCE_48K = np.zeros(WEBRTC_FRAME, dtype=np.int16)
_SILENCE_48K.flags.writeable = False


class Upsampler:
    """8 kHz frames in, exact 960-sample 48 kHz frames out (one per call).

    The streaming resampler's output per input frame wobbles by a sample or two around
    960; the remainder is carried to the next frame, and the very first frames are
    padded with silence while the filter fills.
    """

    def __init__(self) -> None:
        self._resampler = StreamResampler(PHONE_RATE, WEBRTC_RATE)
        self._pending: Pcm = np.empty(0, dtype=np.int16)

    def convert(self, frame: Pcm) -> Pcm:
        out = self._resampler.process(frame)
        if len(self._pending):
            out = np.concatenate((self._pending, out))
        if len(out) < WEBRTC_FRAME:
            self._pending = np.empty(0, dtype=np.int16)
            return np.concatenate((np.zeros(WEBRTC_FRAME - len(out), dtype=np.int16), out))
        # Keep at most one frame's backlog so a burst never grows the delay for good.
        self._pending = out[WEBRTC_FRAME : 2 * WEBRTC_FRAME]
        return out[:WEBRTC_FRAME]

    @staticmethod
    def silence() -> Pcm:
        return _SILENCE_48K


class Downsampler:
    """Browser audio (any rate, interleaved channels) in, 20 ms 8 kHz frames out."""

    def __init__(self, rate: int = WEBRTC_RATE) -> None:
        self._reset(rate)

    def _reset(self, rate: int) -> None:
        self.rate = rate
        self._resampler = StreamResampler(rate, PHONE_RATE)
        self._pending: Pcm = np.empty(0, dtype=np.int16)

    def convert(self, samples: Pcm, rate: int, channels: int) -> list[Pcm]:
        """The telephone frames completed by ``samples`` (first channel only)."""
        if rate != self.rate:  # renegotiated to another clock: start a fresh filter
            self._reset(rate)
        mono = samples.reshape(-1, channels)[:, 0] if channels > 1 else samples.reshape(-1)
        out = self._resampler.process(np.ascontiguousarray(mono))
        if len(self._pending):
            out = np.concatenate((self._pending, out))
        count = len(out) // PHONE_FRAME
        frames = [out[i * PHONE_FRAME : (i + 1) * PHONE_FRAME] for i in range(count)]
        self._pending = out[count * PHONE_FRAME :]
        return frames
