"""`ivr.ports.CallPorts` on a live `media.call.Call`.

Input is DTMF and speech merged: ``ask`` plays the prompts and races the call's next key
against `asr.SpeechService.listen` (when a speech service exists and the question has a
grammar), listening from the first prompt on, re-prompts included; the first answer wins
and the loser is cancelled (listen is cancellation-safe). The no-input rules (timer from
the end of the prompts, a turn in progress never cut) are `ivr.turns.NoInputTimer`'s.
The call itself records the ``prompt`` and ``dtmf`` events, the speech service the
``speech`` events.

A queued call's request carries the IVR's steps and the answers the flow took (nodes,
keys, recognised speech) as call-record events (``context["events"]``): the agent's
screen-pop shows what the caller keyed or said, not only the path.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import re
import time
import wave
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from asr import Grammar
from ivr.grammars import grammar_of
from ivr.ports import Expect, Input, Prompts, QueueTicket, Recording, Utterance, utterances
from ivr.turns import NoInputTimer
from media.call import Call, Hangup
from media.dtmf.events import DtmfDigit
from media.prompts.audio import Prompt, PromptError
from media.prompts.tones import beep

log = logging.getLogger(__name__)

FRAMES_PER_SECOND = 50  # 20 ms frames
SAMPLE_RATE = 8000


class Clock(Protocol):
    """The call clock (the event loop's; a fake one in unit tests)."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class LiveCall:
    """The ports of one live call."""

    def __init__(
        self,
        call: Call,
        *,
        speech: Any = None,
        queueing: Any = None,
        voicemail_dir: Path | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.call = call
        self.caller = call.caller
        self.called = call.called
        self.call_id = call.call_id
        self.speech = speech
        self.queueing = queueing
        self.voicemail_dir = voicemail_dir
        #: the IVR's nodes and the answers it took, for the agent's screen-pop
        self.steps: list[dict[str, Any]] = []
        self._clock = clock

    def now(self) -> float:
        if self._clock is not None:
            return self._clock.now()
        return asyncio.get_running_loop().time()

    def wall_clock(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        if self._clock is not None:
            await self._clock.sleep(seconds)
        else:
            await asyncio.sleep(seconds)

    def ended(self) -> bool:
        return self.call.ended.is_set()

    def record_event(self, event: dict[str, Any]) -> None:
        self.call.record_event(event)
        if event.get("type") == "node":
            self.steps.append(event)

    def _took(self, answer: Input) -> Input:
        """Keep ``answer`` for the screen-pop (one ``dtmf`` event per key, like the call's)."""
        if answer.kind == "dtmf":
            self.steps.extend({"type": "dtmf", "digit": digit} for digit in answer.value)
        elif answer.kind == "speech":
            self.steps.append(
                {"type": "speech", "text": answer.text, "value": answer.value, "outcome": "match"}
            )
        return answer

    async def hangup(self) -> None:
        await self.call.hangup()

    # -- prompts and input --------------------------------------------------------------

    async def say(self, what: Utterance, *, barge_in: bool) -> bool:
        if what.file:
            try:
                return await self.call.play(what.file, barge_in=barge_in)
            except (OSError, PromptError):
                log.warning("prompt file %s unusable; speaking its text", what.file)
                if not what.text:
                    return True
        return await self.call.say(
            what.text, language=what.language, voice=what.voice, barge_in=barge_in
        )

    async def ask(self, what: Prompts, expect: Expect) -> Input:
        prompts = asyncio.ensure_future(self._play_all(utterances(what), expect.barge_in))
        racers: dict[asyncio.Future[Any], str] = {
            asyncio.ensure_future(self.call.next_event()): "key",
        }
        grammar = self._grammar(expect)
        if grammar is not None:
            listen = self.speech.listen(
                self.call,
                grammar,
                language=expect.language,
                no_input_timeout=expect.timeout,
                end_silence=expect.end_silence,
                barge_in=expect.barge_in,
            )
            racers[asyncio.ensure_future(listen)] = "speech"
        timer = NoInputTimer(expect.timeout, listening=grammar is not None)
        try:
            return self._took(await self._first_answer(racers, prompts, timer))
        finally:
            for task in [*racers, prompts]:
                task.cancel()

    async def _first_answer(
        self,
        racers: dict[asyncio.Future[Any], str],
        prompts: asyncio.Future[bool],
        timer: NoInputTimer,
    ) -> Input:
        """The first key or recognised speech, or "noinput" when `timer` runs out."""
        pending: set[asyncio.Future[Any]] = {*racers, prompts}
        alarm: asyncio.Future[None] | None = None
        alarm_at: float | None = None
        try:
            while pending:
                deadline = timer.deadline()
                if deadline is not None and deadline != alarm_at:
                    if alarm is not None:
                        alarm.cancel()
                        pending.discard(alarm)
                    alarm_at = deadline
                    alarm = asyncio.ensure_future(self.sleep(max(0.0, deadline - self.now())))
                    pending.add(alarm)
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if prompts in done:
                    timer.prompt_ended(self.now())
                for task in [t for t in racers if t in done]:
                    answer = _answer(racers[task], task)
                    if answer is not None:
                        return answer
                    if racers[task] == "speech":
                        timer.recognizer_done()
                if alarm is not None and alarm in done and alarm_at == timer.deadline():
                    return Input("noinput")
            return Input("noinput")
        finally:
            if alarm is not None:
                alarm.cancel()

    async def _play_all(self, prompts: list[Utterance], barge_in: bool) -> bool:
        """Play ``prompts`` in a row; an interruption (a key, speech onset) ends them all."""
        for what in prompts:
            if not await self.say(what, barge_in=barge_in):
                return False
        return True

    def _grammar(self, expect: Expect) -> Grammar | None:
        return grammar_of(expect) if self.speech is not None else None

    async def next_digit(self, timeout: float) -> Input:
        return self._took(_key_input(await self.call.next_event(timeout)))

    # -- recordings, queues, transfer ---------------------------------------------------

    async def beep(self) -> None:
        await self.call.play(Prompt(pcm=beep(), source="beep", kind="tone"))

    async def record_audio(self, max_seconds: float, end_key: str) -> Recording:
        frames: list[np.ndarray] = []
        limit = int(max_seconds * FRAMES_PER_SECOND)

        async def collect() -> None:
            async for frame in self.call.audio_frames():
                frames.append(frame)
                if len(frames) >= limit:
                    return

        async def until_key() -> None:
            while not self.ended():
                event = await self.call.next_event()
                if isinstance(event, Hangup) or (
                    isinstance(event, DtmfDigit) and event.digit == end_key
                ):
                    return

        tasks = [asyncio.ensure_future(collect()), asyncio.ensure_future(until_key())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
        if not frames or self.voicemail_dir is None:
            return Recording(None, len(frames) / FRAMES_PER_SECOND)
        path = self._voicemail_path()
        pcm = np.concatenate(frames).astype(np.int16)
        await asyncio.to_thread(_write_wav, path, pcm)
        return Recording(str(path), len(pcm) / SAMPLE_RATE)

    def _voicemail_path(self) -> Path:
        assert self.voicemail_dir is not None
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", self.call_id)[:60]
        return self.voicemail_dir / f"{time.strftime('%Y%m%d-%H%M%S')}-{safe}.wav"

    async def enqueue(self, ticket: QueueTicket) -> str | None:
        if self.queueing is None:
            return None
        contract = importlib.import_module("routing.contract")
        request = contract.QueueRequest(
            queue=ticket.queue,
            skills=ticket.skills,
            priority=ticket.priority,
            language=ticket.language,
            context={**ticket.context, "events": list(self.steps)},
        )
        outcome = await self.queueing.enqueue(self.call, request)
        return str(outcome.kind)

    async def transfer(self, target: str) -> str:
        # The SIP stack has no REFER (RFC 3515) yet: the flow records the target and
        # tells the caller, rather than pretending.
        return "unsupported"


def _answer(kind: str, task: asyncio.Future[Any]) -> Input | None:
    if task.cancelled() or task.exception() is not None:
        if not task.cancelled():
            log.warning("%s input failed: %r", kind, task.exception())
        return None
    if kind == "timer":
        return Input("noinput")
    if kind == "key":
        return _key_input(task.result())
    heard = task.result()
    if heard.outcome == "noinput":
        # the endpointer's own no-input timer: the flow's timeout from the prompt's end
        return Input("noinput")
    if heard.outcome == "match":
        return Input("speech", str(heard.value or ""), heard.text)
    if heard.outcome == "hangup":
        return Input("hangup")
    if heard.outcome == "nomatch" and heard.engine not in ("", "none"):
        return Input("nomatch", text=heard.text)
    return None  # no recognizer for the language: keys and the timer decide


def _key_input(event: Any) -> Input:
    if isinstance(event, DtmfDigit):
        return Input("dtmf", event.digit)
    if isinstance(event, Hangup):
        return Input("hangup")
    return Input("noinput")


def _write_wav(path: Path, pcm: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())
