"""Sans-IO prompt playback: 20 ms frames on demand, and the ticker's pacing arithmetic.

The media engine runs one 20 ms ticker for all calls and asks each call's
:class:`Player` (or :class:`PlayQueue`) for its next frame.  Players never look at a
clock; :class:`FrameClock` is the pure arithmetic that ticker uses to know how many
frames are due, anchored to its start so that late wake-ups never accumulate drift.
Per frame a player only slices a view of the prompt's samples; the sole allocation is
the zero-padded last frame (or the wrap-around frame when looping).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from media.prompts.audio import SAMPLE_RATE, Prompt

FRAME_SAMPLES = 160
"""20 ms at 8 kHz: the G.711 packetization every SIP peer accepts."""


class Player:
    """Plays one prompt (or raw int16 PCM) as fixed-size frames.

    :meth:`next_frame` returns exactly ``frame_samples`` samples, the last frame
    zero-padded, then ``None``.  With ``loop=True`` the prompt repeats seamlessly
    (the wrap-around frame joins the tail to the head) until :meth:`stop`.
    ``source`` is the prompt's source (``"pcm"`` for raw samples), for the call record.
    """

    __slots__ = ("_frame", "_loop", "_pcm", "_pos", "_stopped", "source")

    def __init__(
        self, prompt: Prompt | np.ndarray, frame_samples: int = FRAME_SAMPLES, loop: bool = False
    ) -> None:
        pcm = prompt.pcm if isinstance(prompt, Prompt) else prompt
        if pcm.dtype != np.int16 or pcm.ndim != 1:
            raise ValueError(f"Player needs 1-D int16 PCM, got {pcm.dtype} {pcm.shape}")
        if frame_samples <= 0:
            raise ValueError(f"frame_samples must be positive, got {frame_samples}")
        self._pcm = pcm
        self._frame = frame_samples
        self._loop = loop
        self._pos = 0
        # An empty prompt has nothing to loop over: done from the start.
        self._stopped = len(pcm) == 0
        self.source = prompt.source if isinstance(prompt, Prompt) else "pcm"

    def next_frame(self) -> np.ndarray | None:
        """The next frame of audio, or ``None`` once finished or stopped."""
        if self._stopped:
            return None
        pcm, pos, size = self._pcm, self._pos, self._frame
        end = pos + size
        if end <= len(pcm):
            self._pos = end if end < len(pcm) or not self._loop else 0
            return pcm[pos:end]
        if self._loop:
            return self._wrap_frame()
        if pos >= len(pcm):
            self._stopped = True
            return None
        frame = np.zeros(size, dtype=np.int16)
        frame[: len(pcm) - pos] = pcm[pos:]
        self._pos = len(pcm)
        return frame

    def _wrap_frame(self) -> np.ndarray:
        """Tail then head (repeated if the prompt is shorter than a frame)."""
        indices = np.arange(self._pos, self._pos + self._frame) % len(self._pcm)
        self._pos = (self._pos + self._frame) % len(self._pcm)
        return self._pcm[indices]

    def stop(self) -> None:
        """Barge-in: the very next :meth:`next_frame` returns ``None``."""
        self._stopped = True

    @property
    def done(self) -> bool:
        """True once stopped or once every sample has been handed out."""
        return self._stopped or (not self._loop and self._pos >= len(self._pcm))

    @property
    def position_ms(self) -> float:
        """How far into the prompt playback is (wraps around when looping)."""
        return self._pos * 1000 / SAMPLE_RATE

    @property
    def duration_ms(self) -> float:
        """Length of one pass through the prompt."""
        return len(self._pcm) * 1000 / SAMPLE_RATE


@dataclass(frozen=True, slots=True)
class PlaybackEnded:
    """A queued prompt finished (``interrupted=False``) or was cut short."""

    handle: int
    source: str
    position_ms: float
    interrupted: bool


class PlayQueue:
    """Several prompts back to back; each starts on a frame boundary.

    Starting every prompt on a fresh frame costs at most one frame of silence
    between prompts and makes "prompt N started at frame K" exact for the call
    record.  :meth:`enqueue` returns a handle that comes back in the
    :class:`PlaybackEnded` events drained with :meth:`events`, which is how the IVR
    learns that its ``say()`` finished or was barged in on.
    """

    __slots__ = ("_current", "_events", "_frame", "_next_handle", "_pending")

    def __init__(self, frame_samples: int = FRAME_SAMPLES) -> None:
        self._frame = frame_samples
        self._pending: deque[tuple[int, Player]] = deque()
        self._current: tuple[int, Player] | None = None
        self._events: list[PlaybackEnded] = []
        self._next_handle = 1

    def enqueue(self, prompt: Prompt | np.ndarray, *, loop: bool = False) -> int:
        """Append a prompt; returns its handle."""
        handle = self._next_handle
        self._next_handle += 1
        self._pending.append((handle, Player(prompt, self._frame, loop)))
        return handle

    def next_frame(self) -> np.ndarray | None:
        """The next frame of the current prompt, moving on as prompts finish."""
        while True:
            if self._current is None:
                if not self._pending:
                    return None
                self._current = self._pending.popleft()
            frame = self._current[1].next_frame()
            if frame is not None:
                return frame
            self._finish(interrupted=False)

    def skip(self) -> None:
        """Cut the current prompt (or the next one, if none started yet) short."""
        if self._current is None and self._pending:
            self._current = self._pending.popleft()
        if self._current is not None:
            self._finish(interrupted=True)

    def stop(self) -> None:
        """Barge-in: end the current prompt and drop everything queued."""
        self.skip()
        while self._pending:
            self._current = self._pending.popleft()
            self._finish(interrupted=True)

    def events(self) -> list[PlaybackEnded]:
        """Drain the :class:`PlaybackEnded` events since the last call."""
        events, self._events = self._events, []
        return events

    @property
    def done(self) -> bool:
        """True when nothing is playing or queued."""
        return self._current is None and not self._pending

    @property
    def current_handle(self) -> int | None:
        """Handle of the prompt now playing (``None`` before the first frame)."""
        return None if self._current is None else self._current[0]

    def _finish(self, *, interrupted: bool) -> None:
        assert self._current is not None
        handle, player = self._current
        player.stop()
        self._events.append(PlaybackEnded(handle, player.source, player.position_ms, interrupted))
        self._current = None


class FrameClock:
    """Pacing arithmetic for a fixed-period ticker, anchored so it never drifts.

    Frame ``n`` is due at ``start + n * period`` (frame 0 at ``start``); deadlines are
    always computed from the anchor, never as "now + period", so a late wake-up
    makes the next :meth:`due` return more than one frame instead of pushing every
    later deadline back.
    """

    __slots__ = ("_count", "period", "start")

    def __init__(self, start: float, period: float = 0.020) -> None:
        if period <= 0:
            raise ValueError(f"period must be positive, got {period}")
        self.start = start
        self.period = period
        self._count = 0

    def due(self, now: float) -> int:
        """How many frames became due since the last call (0 if woken early)."""
        k = max(self._count, math.floor((now - self.start) / self.period) + 1)
        # The division can round either way; settle on the same formula as
        # next_deadline() so "due at the deadline" holds exactly.
        while k > self._count and self._deadline(k - 1) > now:
            k -= 1
        while self._deadline(k) <= now:
            k += 1
        due, self._count = k - self._count, k
        return due

    def next_deadline(self) -> float:
        """When the next frame is due; sleep until then."""
        return self._deadline(self._count)

    @property
    def frames(self) -> int:
        """Frames counted as due so far."""
        return self._count

    def _deadline(self, n: int) -> float:
        return self.start + n * self.period
