"""Run a flow on a simulated call: scripted keys and utterances, a fake clock.

    result = await simulate(doc, ["1", "100234#", {"say": "agent"}], crm=crm)
    result.path       # ["welcome", "choose_language", ...]
    result.prompts    # what the caller heard, in order
    result.variables  # at the end of the call

Script steps (each answers one question of the flow): a string of DTMF keys ("1",
"100234#"), any other string = what the caller says, "" or ``{"silence": true}`` = no
answer (the prompt's timeout passes), ``{"dtmf": "..."}``, ``{"say": "..."}``,
``{"hangup": true}``. When the script runs out the caller hangs up. Used by
``/api/v1/flows/{id}/simulate`` and by the interpreter's unit tests.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from ivr.fakeclock import FakeClock
from ivr.grammars import interpret
from ivr.interpreter import Interpreter
from ivr.ports import (
    Expect,
    Input,
    NoticeText,
    Prompts,
    QueueTicket,
    Recording,
    Utterance,
    utterances,
)
from ivr.schema import DTMF_KEYS, FlowDoc
from ivr.validate import FlowError, validate

SECONDS_PER_CHAR = 0.06  # TTS at ~165 words a minute
class ScriptError(ValueError):
    """A script step is not one of the forms in the module docstring."""


class FlowUnusable(ValueError):
    """The document does not even parse; ``errors`` as from `ivr.validate.validate`."""

    def __init__(self, errors: list[FlowError]) -> None:
        super().__init__(errors[0].message if errors else "invalid flow")
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Step:
    kind: str  # "dtmf", "say", "silence", "hangup"
    value: str = ""


@dataclass
class SimulationResult:
    path: list[str]
    prompts: list[str]
    variables: dict[str, Any]
    events: list[dict[str, Any]]
    reason: str
    seconds: float
    warnings: list[FlowError] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "prompts": self.prompts,
            "variables": _jsonable(self.variables),
            "events": self.events,
            "reason": self.reason,
            "seconds": round(self.seconds, 3),
            "warnings": [w.as_dict() for w in self.warnings],
        }


def parse_script(script: Sequence[Any]) -> list[Step]:
    """Script steps from their JSON forms; raises `ScriptError`."""
    steps = []
    for index, raw in enumerate(script):
        if isinstance(raw, str):
            text = raw.strip()
            if not text:
                steps.append(Step("silence"))
            elif all(c in DTMF_KEYS for c in text.upper()):
                steps.append(Step("dtmf", text.upper()))
            else:
                steps.append(Step("say", text))
        elif isinstance(raw, dict) and len(raw) == 1:
            steps.append(_step_from_dict(index, raw))
        else:
            raise ScriptError(f"step {index}: expected a string or a one-key object")
    return steps


def _step_from_dict(index: int, raw: dict[str, Any]) -> Step:
    [(key, value)] = raw.items()
    if key == "dtmf" and isinstance(value, str) and all(c in DTMF_KEYS for c in value.upper()):
        return Step("dtmf", value.upper())
    if key == "say" and isinstance(value, str):
        return Step("say", value)
    if key in ("silence", "hangup") and value is True:
        return Step(key)
    raise ScriptError(f"step {index}: {key!r} must be dtmf keys, a text or true")


def match_speech(text: str, expect: Expect) -> Input:
    """What a recognizer with ``expect``'s grammar makes of ``text`` (simulated ASR)."""
    value = interpret(text, expect)
    return Input("speech", value, text) if value else Input("nomatch", text=text)


class SimulatedCall:
    """`ivr.ports.CallPorts` over a script and a fake clock."""

    def __init__(
        self,
        steps: Sequence[Step],
        clock: FakeClock,
        *,
        start: datetime,
        caller: str,
        called: str,
        queue_outcome: str | None,
    ) -> None:
        self.caller = caller
        self.called = called
        self.call_id = "simulated"
        self.clock = clock
        self.start = start
        self.queue_outcome = queue_outcome
        self.events: list[dict[str, Any]] = []
        self.prompts: list[str] = []
        self._steps = deque(steps)
        self._keys: deque[str] = deque()
        self._ended = False

    def now(self) -> float:
        return self.clock.now()

    def wall_clock(self) -> datetime:
        return self.start + timedelta(seconds=self.clock.now())

    async def sleep(self, seconds: float) -> None:
        await self.clock.sleep(seconds)

    def ended(self) -> bool:
        return self._ended

    def record_event(self, event: dict[str, Any]) -> None:
        self.events.append({"t": round(self.clock.now(), 3), **event})

    async def say(self, what: Utterance, *, barge_in: bool) -> bool:
        if self._ended:
            return False
        if what.file:
            self.record_event({"type": "prompt", "file": what.file})
        else:
            self.record_event({"type": "prompt", "text": what.text, "language": what.language})
        self.prompts.append(what.text or what.file)
        await self.clock.sleep(max(0.5, len(what.text) * SECONDS_PER_CHAR))
        return True

    async def ask(self, what: Prompts, expect: Expect) -> Input:
        for prompt in utterances(what):
            await self.say(prompt, barge_in=expect.barge_in)
        if self._ended:
            return Input("hangup")
        if self._keys:
            return self._key(self._keys.popleft())
        step = self._steps.popleft() if self._steps else Step("hangup")
        if step.kind == "dtmf":
            self._keys.extend(step.value)
            return self._key(self._keys.popleft())
        if step.kind == "say":
            return self._heard(step.value, expect)
        if step.kind == "silence":
            await self.clock.sleep(expect.timeout)
            return Input("noinput")
        await self.hangup("remote_bye")
        return Input("hangup")

    async def next_digit(self, timeout: float) -> Input:
        if self._ended:
            return Input("hangup")
        if not self._keys and self._steps and self._steps[0].kind == "dtmf":
            self._keys.extend(self._steps.popleft().value)
        if self._keys:
            return self._key(self._keys.popleft())
        await self.clock.sleep(timeout)
        return Input("noinput")

    def _key(self, digit: str) -> Input:
        self.record_event({"type": "dtmf", "digit": digit, "source": "simulated"})
        return Input("dtmf", digit)

    def _heard(self, text: str, expect: Expect) -> Input:
        heard = match_speech(text, expect) if expect.grammar else Input("nomatch", text=text)
        outcome = "match" if heard.kind == "speech" else heard.kind
        self.record_event(
            {
                "type": "speech",
                "text": text,
                "value": heard.value or None,
                "outcome": outcome,
                "grammar": expect.grammar or "none",
                "engine": "simulated",
            }
        )
        return heard

    async def beep(self) -> None:
        await self.clock.sleep(0.2)

    async def record_audio(self, max_seconds: float, end_key: str) -> Recording:
        spoken = self._steps.popleft() if self._steps and self._steps[0].kind == "say" else None
        seconds = min(max_seconds, 1.0 + len(spoken.value) * SECONDS_PER_CHAR if spoken else 1.0)
        await self.clock.sleep(seconds)
        if self._steps and self._steps[0].kind == "dtmf" and self._steps[0].value == end_key:
            self._steps.popleft()
        return Recording("simulated.wav", seconds)

    async def enqueue(self, ticket: QueueTicket) -> str | None:
        if self.queue_outcome is not None:
            await self.clock.sleep(10.0)
        return self.queue_outcome

    async def transfer(self, target: str) -> str:
        return "unsupported"

    async def hangup(self, reason: str = "local_bye") -> None:
        if not self._ended:
            self._ended = True
            self.record_event({"type": "hangup", "reason": reason})


class _RealIoCrm:
    """Holds the fake clock still while a real CRM answers (its latency is not the flow's)."""

    def __init__(self, crm: Any, clock: FakeClock) -> None:
        self._crm = crm
        self._clock = clock

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._crm, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            with self._clock.busy():
                return await method(*args, **kwargs)

        return call


async def simulate(
    doc: Any,
    script: Sequence[Any],
    *,
    crm: Any = None,
    now: datetime | None = None,
    notices: Mapping[str, str] | None = None,
    queue_outcome: str | None = None,
    caller: str = "sip:+48601999999@simulator",
    called: str = "sip:hotline@simulator",
    clock: FakeClock | None = None,
) -> SimulationResult:
    """Run ``doc`` (a flow document, drafts too) against ``script``; see the module doc.

    ``queue_outcome`` None simulates a server without an ACD (the busy path); "answered"
    one where an agent takes the call. A ``crm`` whose ``runs_on_fake_clock`` is true (a
    test double sleeping on ``clock``) is used as is; any other runs with the clock held.
    Raises `FlowUnusable` if the document does not parse and `ScriptError` for a bad step.
    """
    warnings = validate(doc)
    try:
        flow = FlowDoc.model_validate(doc)
    except ValidationError:
        raise FlowUnusable(warnings) from None
    clock = clock or FakeClock()
    start = now or datetime.now(UTC)
    call = SimulatedCall(
        parse_script(script),
        clock,
        start=start,
        caller=caller,
        called=called,
        queue_outcome=queue_outcome,
    )
    if crm is not None and not getattr(crm, "runs_on_fake_clock", False):
        crm = _RealIoCrm(crm, clock)
    interpreter = Interpreter(flow, call, crm=crm, notices=_notice_source(notices))
    result = await clock.run(interpreter.run())
    return SimulationResult(
        result.path,
        call.prompts,
        result.variables,
        call.events,
        result.reason,
        clock.now(),
        warnings,
    )


def _notice_source(notices: Mapping[str, str] | None) -> Any:
    if notices is None:
        return None
    texts = dict(notices)

    async def lookup(name: str) -> NoticeText | None:
        text = texts.get(name)
        return NoticeText(text) if text else None

    return lookup


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, str | int | float | bool | type(None)) else str(v)
            for k, v in values.items()}  # fmt: skip
