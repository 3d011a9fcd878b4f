"""The live port's input timing on a fake clock: a simulated call and a simulated caller.

`ivr.live.LiveCall` runs on a call whose prompts take fake time and a speech service
that behaves as Contract A says `listen` does (20 ms frames; the no-input clock runs only
while no prompt plays; speech onset stops a barge-in prompt; the turn ends 0.8 s after
the caller's last word). The rules under test:

- the no-input timer starts when the prompt ends and is the flow's configured timeout;
- speech that starts before the timer runs out is never cut off;
- the recognizer's own no-input ends the turn; with no recognizer the timer does;
- keys and speech are merged, whichever comes first;
- a re-prompt ("Sorry, ...") is part of the question: speech may barge into it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, cast

import pytest

from asr import Heard
from ivr.fakeclock import FakeClock
from ivr.interpreter import DIGITS_END_SILENCE, Interpreter
from ivr.live import LiveCall
from ivr.ports import Expect, Input, Utterance
from ivr.schema import parse_flow
from ivr.turns import LISTEN_GRACE, NoInputTimer
from media.call import Call
from media.dtmf.events import DtmfDigit

FRAME = 0.02
SECONDS_PER_CHAR = 0.05
END_SILENCE = 0.8


@dataclass
class Words:
    """What the simulated caller says: from ``at`` (call clock), for ``length`` seconds."""

    at: float
    length: float
    value: str
    text: str = ""


class SimulatedCall:
    """`media.call.Call` as the live port uses it, on a fake clock."""

    call_id, caller, called = "c1", "sip:+48601999999@x", "sip:shop@x"

    def __init__(self, clock: FakeClock, keys: dict[float, str] | None = None) -> None:
        self.clock = clock
        self.keys = sorted((keys or {}).items())
        self.ended = asyncio.Event()
        self.recorded: list[dict[str, Any]] = []
        self._stop: asyncio.Future[None] | None = None
        self._barge_in = False

    @property
    def playing(self) -> bool:
        return self._stop is not None

    def stop_playback(self) -> None:
        if self._stop is not None and not self._stop.done():
            self._stop.set_result(None)

    async def say(
        self, text: str, *, language: str = "en", voice: str | None = None, barge_in: bool = False
    ) -> bool:
        self.record_event({"type": "prompt", "text": text})
        self._stop = asyncio.get_running_loop().create_future()
        self._barge_in = barge_in
        played = asyncio.ensure_future(self.clock.sleep(len(text) * SECONDS_PER_CHAR))
        try:
            await asyncio.wait({played, self._stop}, return_when=asyncio.FIRST_COMPLETED)
            completed = played.done()
        finally:
            played.cancel()
            self._stop = None
        self.record_event({"type": "prompt_end", "completed": completed})
        return completed

    async def next_event(self, timeout: float | None = None) -> DtmfDigit | None:
        if not self.keys:
            await asyncio.get_running_loop().create_future()  # nobody presses anything
        at, digit = self.keys[0]
        await self.clock.sleep(at - self.clock.now())
        self.keys.pop(0)
        self.record_event({"type": "dtmf", "digit": digit})
        if self._barge_in:
            self.stop_playback()
        return DtmfDigit(digit, "rfc4733", 100, at)

    def record_event(self, event: dict[str, Any]) -> None:
        self.recorded.append({"t": round(self.clock.now(), 3), **event})

    def at(self, kind: str, **match: Any) -> list[float]:
        return [
            e["t"]
            for e in self.recorded
            if e["type"] == kind and all(e.get(k) == v for k, v in match.items())
        ]

    async def hangup(self) -> None:
        self.ended.set()


class SimulatedSpeech:
    """`SpeechService.listen` (Contract A) over a scripted caller, frame by frame."""

    def __init__(self, clock: FakeClock, *words: Words, engine: str = "pocketsphinx") -> None:
        self.clock = clock
        self.words = list(words)
        self.engine = engine
        self.cancelled = 0

    async def listen(
        self,
        call: SimulatedCall,
        grammar: Any,
        *,
        language: str = "en",
        no_input_timeout: float = 5.0,
        end_silence: float = END_SILENCE,
        barge_in: bool = True,
    ) -> Heard:
        if self.engine == "none":
            return Heard("nomatch", engine="none", grammar=grammar.name)
        silent_frames = 0
        try:
            while True:
                await self.clock.sleep(FRAME)
                now = self.clock.now()
                spoken = next((w for w in self.words if w.at <= now < w.at + w.length), None)
                if spoken is not None and (barge_in or not call.playing):
                    if barge_in:
                        call.stop_playback()
                    said = [spoken]  # words after a pause shorter than end_silence: one turn
                    while follow := next(
                        (w for w in self.words if w not in said
                         and 0 <= w.at - (said[-1].at + said[-1].length) < end_silence),
                        None,
                    ):  # fmt: skip
                        said.append(follow)
                    for w in said:
                        self.words.remove(w)
                    await self.clock.sleep(said[-1].at + said[-1].length + end_silence - now)
                    heard = Heard(
                        "match", "".join(w.value for w in said), " ".join(w.text for w in said),
                        0.9, engine=self.engine, grammar=grammar.name, latency_ms=50.0,
                    )  # fmt: skip
                    break
                if not call.playing:
                    silent_frames += 1
                    if silent_frames * FRAME >= no_input_timeout - 1e-9:
                        heard = Heard("noinput", engine=self.engine, grammar=grammar.name)
                        break
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        call.record_event({"type": "speech", "outcome": heard.outcome, "value": heard.value})
        return heard


def ports(
    clock: FakeClock, *words: Words, keys: dict[float, str] | None = None, **kw: Any
) -> tuple[LiveCall, SimulatedCall, SimulatedSpeech]:
    call = SimulatedCall(clock, keys)
    speech = SimulatedSpeech(clock, *words, **kw)
    return LiveCall(cast(Call, call), speech=speech, clock=clock), call, speech


#: a 3 s prompt (60 characters at 0.05 s)
PROMPT = Utterance("x" * 60)
SAY_ORDER_STATUS = Expect(timeout=5.0, grammar="phrases", phrases={"1": ["order status"]})


def at(seconds: float) -> Any:
    """A time on the call clock, to the 20 ms frame the recognizer decides on."""
    return pytest.approx(seconds, abs=FRAME + 1e-9)


async def test_the_no_input_timer_starts_when_the_prompt_ends() -> None:
    clock = FakeClock()
    live, call, _ = ports(clock)
    answer = await clock.run(live.ask(PROMPT, Expect(timeout=4.0)))  # keys only
    assert answer == Input("noinput")
    assert call.at("prompt_end") == [3.0]
    assert clock.now() == pytest.approx(3.0 + 4.0)


async def test_the_recognizers_no_input_ends_a_speech_question_on_the_same_clock() -> None:
    clock = FakeClock()
    live, call, _ = ports(clock)
    answer = await clock.run(live.ask(PROMPT, Expect(timeout=4.0, grammar="digits")))
    assert answer == Input("noinput")
    assert call.at("speech", outcome="noinput") == [at(7.0)]
    assert clock.now() == at(7.0)  # not the timer's safety net (+ LISTEN_GRACE)


async def test_speech_started_before_the_timeout_is_not_cut_off() -> None:
    """The caller starts 4.5 s after a 3 s prompt (timeout 5 s) and talks for 3 s: the
    turn ends with the endpointer at 11.3 s, long after prompt end + timeout (8 s)."""
    clock = FakeClock()
    words = Words(at=7.5, length=3.0, value="100234", text="one zero zero two three four")
    live, _, _ = ports(clock, words)
    answer = await clock.run(live.ask(PROMPT, Expect(timeout=5.0, grammar="digits")))
    assert answer == Input("speech", "100234", "one zero zero two three four")
    assert clock.now() == pytest.approx(7.5 + 3.0 + END_SILENCE)


async def test_a_recognizer_without_an_engine_leaves_it_to_the_timer() -> None:
    clock = FakeClock()
    live, _, _ = ports(clock, engine="none")  # e.g. Polish without a model
    answer = await clock.run(live.ask(PROMPT, Expect(timeout=4.0, grammar="digits")))
    assert answer == Input("noinput")
    assert clock.now() == pytest.approx(7.0)


@pytest.mark.parametrize(
    ("key_at", "words_at", "expected"),
    [
        (4.0, 5.0, Input("dtmf", "5")),  # key first (the speech turn is cancelled)
        (4.0, 2.0, Input("dtmf", "5")),  # a key in the middle of a speech turn
        (9.0, 3.5, Input("speech", "1", "order status")),  # speech done first
    ],
)
async def test_keys_and_speech_whichever_comes_first(
    key_at: float, words_at: float, expected: Input
) -> None:
    clock = FakeClock()
    words = Words(at=words_at, length=3.0, value="1", text="order status")
    live, _, speech = ports(clock, words, keys={key_at: "5"})
    answer = await clock.run(live.ask(PROMPT, SAY_ORDER_STATUS))
    assert answer == expected
    assert clock.now() == pytest.approx(min(key_at, words_at + 3.0 + END_SILENCE))
    await asyncio.sleep(0)  # the loser's cancellation lands
    assert speech.cancelled == (expected.kind == "dtmf")


async def test_speech_barges_into_the_prompt() -> None:
    clock = FakeClock()
    live, call, _ = ports(clock, Words(at=1.0, length=1.0, value="1", text="order status"))
    answer = await clock.run(live.ask(PROMPT, SAY_ORDER_STATUS))
    assert answer.value == "1"
    assert call.at("prompt_end", completed=False) == [at(1.0)]


ASK_ORDER = {
    "id": "ask_order",
    "kind": "collect",
    "variable": "order_number",
    "prompt": {"text": "Please key in your six digit order number, or say it."},
    "min_length": 6,
    "max_length": 6,
    "timeout": 7,
    "retries": 1,
    "next": "done",
    "fallback": "done",
}
FLOW = parse_flow(
    {
        "name": "t",
        "start": "ask_order",
        "nodes": [ASK_ORDER, {"id": "done", "kind": "hangup", "prompt": {"text": "Bye."}}],
    }
)
QUESTION = ASK_ORDER["prompt"]["text"]  # type: ignore[index]
SORRY = "Sorry, I did not hear anything."


async def test_the_flows_timeout_runs_from_the_end_of_each_question() -> None:
    clock = FakeClock()
    live, call, _ = ports(clock)
    await clock.run(Interpreter(FLOW, live).run())
    ends = call.at("prompt_end")
    assert [e["text"] for e in call.recorded if e["type"] == "prompt"] == [
        QUESTION, SORRY, QUESTION, "Bye."
    ]  # fmt: skip
    # first question: its prompt end + 7 s; the retry: "Sorry" + question end + 7 s
    assert call.at("noinput") == [at(ends[0] + 7), at(ends[2] + 7)]


async def test_speech_barges_into_the_re_prompt() -> None:
    """Silence the first time; the caller starts the number during "Sorry, ...": the
    re-prompt stops, the number is collected (it was lost between prompts before)."""
    clock = FakeClock()
    question_end = len(QUESTION) * SECONDS_PER_CHAR
    sorry_start = question_end + 7
    words = Words(at=sorry_start + 0.5, length=3.0, value="100234")
    live, call, _ = ports(clock, words)
    result = await clock.run(Interpreter(FLOW, live).run())
    assert result.variables["order_number"] == "100234"
    assert [e["text"] for e in call.recorded if e["type"] == "prompt"] == [
        QUESTION, SORRY, "Bye."
    ]  # fmt: skip
    assert call.at("prompt_end", completed=False) == [at(sorry_start + 0.5)]


async def test_a_number_said_in_groups_is_one_answer() -> None:
    """ "one zero zero ... two three four": a 1 s pause between the groups does not end
    the turn (digit questions wait 1.5 s of silence), the whole number is collected."""
    clock = FakeClock()
    start = len(QUESTION) * SECONDS_PER_CHAR + 0.7
    groups = Words(start, 1.2, "100"), Words(start + 2.2, 1.2, "234")
    live, call, _ = ports(clock, *groups)
    result = await clock.run(Interpreter(FLOW, live).run())
    assert result.variables["order_number"] == "100234"
    assert call.at("collect") == [at(start + 3.4 + DIGITS_END_SILENCE)]


def test_no_input_timer_rules() -> None:
    timer = NoInputTimer(5.0)
    assert timer.deadline() is None  # the prompt plays: no timer yet
    timer.prompt_ended(3.0)
    timer.prompt_ended(4.0)  # only the first end counts
    assert timer.deadline() == 8.0 and not timer.expired(7.9) and timer.expired(8.0)
    listening = NoInputTimer(5.0, listening=True)
    listening.prompt_ended(3.0)
    assert listening.deadline() == 8.0 + LISTEN_GRACE  # the recognizer owns the turn
    listening.recognizer_done()
    assert listening.deadline() == 8.0 and listening.expired(9.0)
