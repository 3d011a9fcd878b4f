"""The `Call` API: what the IVR and the ACD drive, one object per answered caller.

    ok = await call.say("Welcome", barge_in=True)   # False when the caller interrupted
    async for event in call.events(): ...           # DtmfDigit, Hangup (speech later)
    async for frame in call.audio_frames(): ...     # 20 ms int16 frames for ASR
    await call.hangup()

Playback goes through the engine's 20 ms ticker (the call only swaps the leg's
frame source), so nothing here paces audio or blocks the loop; TTS renders in
the prompt cache's worker process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .dtmf.events import DtmfDigit
from .dtmf.rfc4733 import event_code
from .leg import FrameSource, MediaLeg
from .prompts.audio import Prompt, load_wav_async
from .prompts.player import Player
from .prompts.tts import PromptCache

log = logging.getLogger(__name__)

AUDIO_QUEUE_FRAMES = 50  # 1 s of audio for a slow consumer; older frames are dropped


@dataclass(frozen=True, slots=True)
class Hangup:
    """The call ended; ``reason`` as on the call record (remote_bye, local_bye, ...)."""

    reason: str


CallEvent = DtmfDigit | Hangup
EventSink = Callable[[dict[str, Any]], None]


class _Playback:
    """A player whose end (or interruption) resolves a future on the loop.

    When it ends the leg goes back to the call's background source (a bridge,
    music on hold) at once, so a prompt never leaves a frame of dead air.
    """

    def __init__(
        self, call: Call, player: Player, barge_in: bool, done: asyncio.Future[bool]
    ) -> None:
        self.call = call
        self.player = player
        self.barge_in = barge_in
        self.done = done

    def next_frame(self) -> np.ndarray | None:
        frame = self.player.next_frame()
        if frame is None:
            self.finish(completed=True)
            background = self.call.background
            return background.next_frame() if background is not None else None
        return frame

    def finish(self, completed: bool) -> None:
        self.player.stop()
        leg = self.call.leg
        if leg.source is self:
            leg.source = self.call.background
        if not self.done.done():
            self.done.set_result(completed)


class Call:
    """One answered call.  Built by the SIP server; see the module docstring."""

    def __init__(
        self,
        call_id: str,
        caller: str,
        called: str,
        leg: MediaLeg,
        prompts: PromptCache,
        record: EventSink,
        hangup: Callable[[], None],
    ) -> None:
        self.call_id = call_id
        self.caller = caller
        self.called = called
        self.leg = leg
        self.prompts = prompts
        self._record = record
        self._hangup = hangup
        self._events: asyncio.Queue[CallEvent] = asyncio.Queue()
        self._playback: _Playback | None = None
        self._audio: list[asyncio.Queue[np.ndarray]] = []
        self._background: FrameSource | None = None
        self.ended = asyncio.Event()
        self.end_reason: str | None = None
        leg.on_digit = self._on_digit

    # -- prompts ----------------------------------------------------------------------

    @property
    def background(self) -> FrameSource | None:
        """What the caller hears when no prompt plays: a bridge, music; None is silence."""
        return self._background

    @background.setter
    def background(self, source: FrameSource | None) -> None:
        self._background = source
        if self._playback is None:
            self.leg.source = source

    async def say(
        self, text: str, *, language: str = "en", voice: str | None = None, barge_in: bool = False
    ) -> bool:
        """Speak ``text``; True if it played to the end, False if interrupted or hung up."""
        if self.ended.is_set():
            return False
        prompt = await self.prompts.speech(text, language=language, voice=voice)
        return await self.play(prompt, barge_in=barge_in)

    async def play(self, prompt: Prompt | Path | str, *, barge_in: bool = False) -> bool:
        """Play a prompt or an audio file (WAV of any rate); see :meth:`say`."""
        if isinstance(prompt, str | Path):
            prompt = await load_wav_async(Path(prompt))
        if self.ended.is_set():
            return False
        self.stop_playback()
        self._record(_prompt_event(prompt))
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        playback = self._playback = _Playback(self, Player(prompt), barge_in, done)
        self.leg.source = playback
        try:
            return await done
        finally:
            # Ended, interrupted or cancelled (which cancels ``done`` too): never let
            # the prompt play on without anyone waiting for it.  finish() is idempotent.
            playback.finish(completed=False)
            if self._playback is playback:
                self._playback = None

    @property
    def playing(self) -> bool:
        """True while a prompt plays (the no-input timers of the IVR start when it ends)."""
        return self._playback is not None

    def stop_playback(self) -> None:
        """Stop what is playing now (within one 20 ms frame)."""
        if self._playback is not None:
            self._playback.finish(completed=False)
            self._playback = None

    # -- input --------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[CallEvent]:
        """DTMF digits (whatever their source) and finally the hang-up.

        Once the call has ended, every later call yields the :class:`Hangup` again.
        """
        while True:
            event = await self._next()
            yield event
            if isinstance(event, Hangup):
                return

    async def next_event(self, timeout: float | None = None) -> CallEvent | None:
        """The next event, or None after ``timeout`` seconds without one.

        After the end of the call: the :class:`Hangup`, at once and every time.
        """
        try:
            return await asyncio.wait_for(self._next(), timeout)
        except TimeoutError:
            return None

    async def _next(self) -> CallEvent:
        if self._events.empty() and self.end_reason is not None:
            return Hangup(self.end_reason)  # already handed out once; it stays true
        return await self._events.get()

    async def audio_frames(self) -> AsyncIterator[np.ndarray]:
        """The caller's audio as 20 ms int16 frames at 8 kHz, until the call ends."""
        queue: asyncio.Queue[np.ndarray] = asyncio.Queue(AUDIO_QUEUE_FRAMES)
        self._audio.append(queue)
        self.leg.attach_jitter_buffer()
        if self._feed_audio not in self.leg.listeners:
            self.leg.listeners.append(self._feed_audio)
        try:
            while not self.ended.is_set() or not queue.empty():
                if not queue.empty():  # a consumer keeping up never builds a task
                    yield queue.get_nowait()
                    continue
                getter = asyncio.ensure_future(queue.get())
                ended = asyncio.ensure_future(self.ended.wait())
                await asyncio.wait({getter, ended}, return_when=asyncio.FIRST_COMPLETED)
                ended.cancel()
                if not getter.done():
                    getter.cancel()
                    return
                yield getter.result()
        finally:
            self._audio.remove(queue)
            if not self._audio and self._feed_audio in self.leg.listeners:
                self.leg.listeners.remove(self._feed_audio)

    def _feed_audio(self, frame: np.ndarray) -> None:
        for queue in self._audio:
            if queue.full():  # a slow consumer loses the oldest audio, never stalls the tick
                queue.get_nowait()
            queue.put_nowait(frame)

    def _on_digit(self, digit: DtmfDigit) -> None:
        self._record({"type": "dtmf", "digit": digit.digit, "source": digit.source})
        if self._playback is not None and self._playback.barge_in:
            self.stop_playback()
        self._events.put_nowait(digit)

    # -- the call record ---------------------------------------------------------------------

    def record_event(self, event: dict[str, Any]) -> None:
        """Append ``event`` (a JSON object with a ``type``) to the call record's history.

        The time is stamped by the record; the IVR, speech and routing layers all write
        what they did here, so agents and reports see the caller's path.
        """
        if "type" not in event:
            raise ValueError("a call event needs a 'type'")
        self._record(event)

    # -- output and control ---------------------------------------------------------------

    def send_dtmf(self, digits: str, duration_ms: int = 100) -> None:
        """Send RFC 4733 digits to the caller (e.g. to an upstream IVR).

        Raises ValueError, sending none of them, if one is not a DTMF key.
        """
        for digit in digits:
            event_code(digit)
        for digit in digits:
            self.leg.send_digit(digit, duration_ms)

    async def hangup(self) -> None:
        """End the call (BYE) and wait until it is over."""
        if not self.ended.is_set():
            self._hangup()
        await self.ended.wait()

    def closed(self, reason: str) -> None:
        """Called by the SIP server when the call is over, whoever ended it."""
        if self.ended.is_set():
            return
        self.end_reason = reason
        self.stop_playback()
        self.leg.on_digit = _ignore_digit  # breaks the Call <-> leg cycle for the collector
        self.ended.set()
        self._events.put_nowait(Hangup(reason))


def _ignore_digit(digit: DtmfDigit) -> None:
    """A finished call's leg drops late digits."""


def _prompt_event(prompt: Prompt) -> dict[str, Any]:
    key = "text" if prompt.kind == "speech" else "file" if prompt.kind == "file" else "tone"
    return {"type": "prompt", key: prompt.source}


async def run_handler(call: Call, handler: Callable[[Call], Awaitable[None]]) -> None:
    """Run the application on ``call``; an application error hangs up, never crashes."""
    try:
        await handler(call)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("call handler failed on %s", call.call_id)
        with contextlib.suppress(Exception):
            await call.hangup()
