"""The flow interpreter: one coroutine per call, walking a published flow node by node.

    result = await Interpreter(flow, ports, crm=crm, notices=notices).run()

All I/O goes through `ivr.ports.CallPorts` (live call or simulation), all time through
the ports' clock, so the same code is unit-tested with a scripted caller and a fake clock.
Each node handler returns the id of the next node (None ends the call). Every step is an
event on the call record: ``node`` (id, kind) here, plus ``noinput``/``nomatch``/
``retries_exhausted``, ``branch``, ``collect``, and the hand-off events of `ivr.handoff`.
The ``prompt``, ``dtmf`` and ``speech`` events come from the call itself.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ivr.conditions import evaluate, render, spaced_digits
from ivr.ports import CallPorts, Expect, Input, Notices, Utterance
from ivr.schema import (
    AnnounceNode,
    BranchNode,
    CollectNode,
    CrmFlagCondition,
    FlowDoc,
    HangupNode,
    LanguageNode,
    MenuNode,
    Prompt,
    SayNode,
    SetNode,
    VipCondition,
)
from ivr.validate import reads, start_id

log = logging.getLogger(__name__)

MAX_STEPS = 500  # a draft in the simulator may loop; a live call never walks this far
TERMINATOR_GRACE = 0.3  # seconds to wait for a "#" after a full-length entry
CUSTOMER_BUDGET = 2.0  # seconds a node that needs the caller's CRM record waits for it
#: callers say long numbers in groups ("one zero zero ... two three four") with pauses
#: near a second: a shorter end of utterance cuts the number after its first group
DIGITS_END_SILENCE = 1.5
T = TypeVar("T")


@dataclass
class RunResult:
    """Where the call went (node ids in order), its variables at the end, and why it ended:
    "end" (the flow ended it), "caller_hangup", "transferred", "step_limit"."""

    path: list[str]
    variables: dict[str, Any]
    reason: str


class Interpreter:
    """Runs ``flow`` on one call; see the module docstring."""

    def __init__(
        self,
        flow: FlowDoc,
        ports: CallPorts,
        *,
        crm: Any = None,
        notices: Notices | None = None,
        variables: dict[str, Any] | None = None,
    ) -> None:
        self.flow = flow
        self.nodes = flow.node_map()
        self.ports = ports
        self.crm = crm
        self.notices = notices
        self.variables: dict[str, Any] = {
            "caller": ports.caller,
            "called": ports.called,
            "call_id": ports.call_id,
            "language": flow.language,
            "vip": False,
            **flow.variables,
            **(variables or {}),
        }
        self.voice: str | None = None
        self.path: list[str] = []
        self.end_reason = "end"
        self._customer: asyncio.Task[Any] | None = None
        self._customer_settled = False

    @property
    def language(self) -> str:
        return str(self.variables.get("language") or "en")

    async def run(self) -> RunResult:
        """Walk the flow until it ends or the caller hangs up."""
        self._customer = _start_customer_lookup(self.crm, self.ports.caller)
        try:
            await self._walk(start_id(self.flow))
        finally:
            if self._customer is not None:
                self._customer.cancel()
        if self.ports.ended() and self.end_reason == "end":
            self.end_reason = "caller_hangup"
        elif self.end_reason in ("end", "step_limit"):
            await self.ports.hangup()
        self.ports.record_event({"type": "ivr_end", "reason": self.end_reason})
        return RunResult(self.path, dict(self.variables), self.end_reason)

    async def _walk(self, node_id: str | None) -> None:
        while node_id and not self.ports.ended():
            node = self.nodes.get(node_id)
            if node is None:
                log.warning("flow %r has no node %r", self.flow.name, node_id)
                return
            if len(self.path) >= MAX_STEPS:
                self.end_reason = "step_limit"
                return
            self.path.append(node.id)
            self.ports.record_event({"type": "node", "id": node.id, "kind": node.kind})
            if _needs_customer(node):
                await self.customer()
            node_id = await HANDLERS[node.kind](self, node)

    # -- prompts and input ------------------------------------------------------------------

    def utter(self, prompt: Prompt, **extra: Any) -> Utterance:
        """The prompt as the caller should hear it now (language, variables)."""
        language = prompt.language or self.language
        values = {**self.variables, **extra} if extra else self.variables
        text = render(prompt.text_for(language), values).strip()
        return Utterance(text, prompt.file, language, prompt.voice or self.voice)

    def question(self, reprompt: Prompt | None, prompt: Prompt, **extra: Any) -> list[Utterance]:
        """What a question plays: after a failed try the "sorry" first, then the prompt,
        as one question, so the caller may answer (keys or speech) from the first word."""
        asked = [self.utter(reprompt)] if reprompt is not None else []
        return [*asked, self.utter(prompt, **extra)]

    async def say(self, prompt: Prompt | None, *, barge_in: bool = True, **extra: Any) -> bool:
        """Play ``prompt`` (nothing if it renders empty); False if cut short."""
        if prompt is None:
            return True
        what = self.utter(prompt, **extra)
        if not what.text and not what.file:
            return True
        return await self.ports.say(what, barge_in=barge_in)

    def expect(self, timeout: float, grammar: Any = None, **kwargs: Any) -> Expect:
        return Expect(timeout=timeout, grammar=grammar, language=self.language, **kwargs)

    async def gather_digits(self, first: str, max_len: int, terminator: str, gap: float) -> Input:
        """Keys after ``first`` until ``max_len``, the terminator or ``gap`` s of silence."""
        digits = "" if first == terminator else first
        while len(digits) < max_len and first != terminator:
            key = await self.ports.next_digit(gap)
            if key.kind == "hangup":
                return key
            if key.kind != "dtmf" or key.value == terminator:
                break
            digits += key.value
        if len(digits) == max_len and terminator:
            # "100234#" with a 6-digit field: swallow the habitual terminator, or it
            # would answer the next question.
            await self.ports.next_digit(TERMINATOR_GRACE)
        return Input("dtmf", digits)

    def failed(self, node_id: str, kind: str) -> None:
        self.ports.record_event({"type": kind, "node": node_id})

    # -- time budgets and the CRM -----------------------------------------------------------

    async def within_budget(
        self, work: Awaitable[T], budget: float, one_moment_after: float, one_moment: Prompt
    ) -> tuple[str, T | None]:
        """("ok", result) | ("timeout", None) | ("error", None), never waiting past
        ``budget`` s; a short "one moment" plays once ``one_moment_after`` s have passed."""
        task = asyncio.ensure_future(work)
        started = self.ports.now()
        await self._race(task, one_moment_after)
        if not task.done():
            saying = asyncio.ensure_future(self.say(one_moment, barge_in=False))
            await self._race(task, budget - (self.ports.now() - started))
            await saying  # a short prompt: let it finish rather than cut a word
        if not task.done():
            task.cancel()
            return "timeout", None
        if task.cancelled() or task.exception() is not None:
            if not task.cancelled():
                log.warning("CRM call failed: %r", task.exception())
            return "error", None
        return "ok", task.result()

    async def _race(self, task: asyncio.Future[Any], seconds: float) -> None:
        if task.done() or seconds <= 0:
            return
        timer = asyncio.ensure_future(self.ports.sleep(seconds))
        try:
            await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()

    async def customer(self) -> Any:
        """The caller's CRM record (None if unknown), waited for under the budget once."""
        task = self._customer
        if task is None or self._customer_settled:
            return task.result() if task is not None and _succeeded(task) else None
        started = self.ports.now()
        outcome, found = await self.within_budget(
            asyncio.shield(task), CUSTOMER_BUDGET, 1.0, Prompt(text="One moment please.")
        )
        self._customer_settled = True
        if outcome == "timeout":
            task.cancel()
        elapsed_ms = round((self.ports.now() - started) * 1000)
        self.ports.record_event(
            {
                "type": "lookup",
                "action": "customer",
                "outcome": outcome if outcome != "ok" else "found" if found else "not_found",
                "wait_ms": elapsed_ms,
            }
        )
        if found is not None:
            self.variables.update(customer_variables(found))
        return found


def _start_customer_lookup(crm: Any, caller: str) -> asyncio.Task[Any] | None:
    if crm is None:
        return None
    from crm_bridge import normalize_phone

    phone = normalize_phone(caller)
    if phone is None:
        return None
    return asyncio.ensure_future(crm.customer_by_phone(phone))


def _succeeded(task: asyncio.Task[Any]) -> bool:
    return task.done() and not task.cancelled() and task.exception() is None


def customer_variables(customer: Any) -> dict[str, Any]:
    """``crm.*`` (and ``vip``) variables of a CRM customer."""
    found = {
        "vip": bool(customer.vip),
        "crm.id": customer.id,
        "crm.name": customer.name,
        "crm.vip": bool(customer.vip),
        "crm.language": customer.language,
        "crm.email": customer.email or "",
    }
    found.update({f"crm.flags.{k}": v for k, v in (customer.flags or {}).items()})
    return found


def _needs_customer(node: Any) -> bool:
    if any(name == "vip" or name.startswith("crm.") for _, name in reads(node)):
        return True
    if isinstance(node, BranchNode):
        return any(isinstance(r.when, VipCondition | CrmFlagCondition) for r in node.rules)
    if isinstance(node, AnnounceNode):
        return isinstance(node.when, VipCondition | CrmFlagCondition)
    return node.kind == "queue" and node.vip_boost > 0


# -- node handlers ------------------------------------------------------------------------------

Handler = Callable[[Interpreter, Any], Awaitable[str | None]]


async def run_say(it: Interpreter, node: SayNode) -> str | None:
    await it.say(node.prompt, barge_in=node.barge_in)
    return node.next


async def run_menu(it: Interpreter, node: MenuNode) -> str | None:
    keys = {(o.digit or f"option{i}"): o for i, o in enumerate(node.options)}
    phrases = {key: o.phrases for key, o in keys.items() if o.phrases}
    grammar = "phrases" if node.speech and phrases else None
    expect = it.expect(node.timeout, grammar, phrases=phrases)
    reprompt: Prompt | None = None
    for _ in range(node.retries + 1):
        answer = await it.ports.ask(it.question(reprompt, node.prompt), expect)
        if answer.kind == "hangup":
            return None
        option = keys.get(answer.value) if answer.kind in ("dtmf", "speech") else None
        if option is not None:
            return option.next
        failure = "noinput" if answer.kind == "noinput" else "nomatch"
        it.failed(node.id, failure)
        reprompt = node.no_input_prompt if failure == "noinput" else node.no_match_prompt
    it.failed(node.id, "retries_exhausted")
    return node.fallback


async def run_collect(it: Interpreter, node: CollectNode) -> str | None:
    reprompt: Prompt | None = None
    for _ in range(node.retries + 1):
        answer = await _read_value(it, node, reprompt)
        if answer.kind == "hangup":
            return None
        failure: str = answer.kind if answer.kind in ("noinput", "nomatch") else ""
        if not failure and not _valid(node, answer.value):
            failure = "invalid"
        if not failure and node.confirm:
            confirmed = await _confirm(it, node, answer.value)
            if confirmed is None:
                return None
            failure = "" if confirmed else "rejected"
        if not failure:
            it.variables[node.variable] = answer.value
            event = {"type": "collect", "node": node.id, "variable": node.variable}
            it.ports.record_event({**event, "value": answer.value})
            return node.next
        it.failed(node.id, failure)
        reprompt = {"rejected": None, "noinput": node.no_input_prompt}.get(
            failure, node.invalid_prompt
        )
    it.failed(node.id, "retries_exhausted")
    return node.fallback


async def _read_value(it: Interpreter, node: CollectNode, reprompt: Prompt | None) -> Input:
    if node.mode == "digits":
        grammar = "digits" if node.speech else None
        expect = it.expect(
            node.timeout,
            grammar,
            min_len=node.min_length,
            max_len=node.max_length,
            end_silence=DIGITS_END_SILENCE if node.max_length > 1 else 0.8,
        )
    else:
        expect = it.expect(node.timeout, node.grammar)
    answer = await it.ports.ask(it.question(reprompt, node.prompt), expect)
    if answer.kind == "dtmf" and node.mode == "digits":
        return await it.gather_digits(
            answer.value, node.max_length, node.terminator, node.inter_digit_timeout
        )
    if answer.kind == "dtmf" and node.grammar == "yesno":
        return Input("dtmf", {"1": "yes", "2": "no"}.get(answer.value, answer.value))
    if answer.kind == "speech" and node.mode == "digits":
        return Input("speech", re.sub(r"\D", "", answer.value), answer.text)
    return answer


def _valid(node: CollectNode, value: str) -> bool:
    if node.mode == "digits" and not node.min_length <= len(value) <= node.max_length:
        return False
    return not node.pattern or re.search(node.pattern, value) is not None


async def _confirm(it: Interpreter, node: CollectNode, value: str) -> bool | None:
    spoken = spaced_digits(value) if node.mode == "digits" else value
    expect = it.expect(node.timeout, "yesno")
    answer = await it.ports.ask(it.utter(node.confirm_prompt, value=spoken), expect)
    if answer.kind == "hangup":
        return None
    return answer.value in ("1", "yes")


async def run_branch(it: Interpreter, node: BranchNode) -> str | None:
    now = it.ports.wall_clock()
    for index, rule in enumerate(node.rules):
        if evaluate(rule.when, it.variables, now):
            it.ports.record_event({"type": "branch", "node": node.id, "rule": index})
            return rule.next
    it.ports.record_event({"type": "branch", "node": node.id, "rule": "otherwise"})
    return node.otherwise


async def run_set(it: Interpreter, node: SetNode) -> str | None:
    for name, value in node.values.items():
        it.variables[name] = render(value, it.variables) if isinstance(value, str) else value
    return node.next


async def run_announce(it: Interpreter, node: AnnounceNode) -> str | None:
    if node.when is not None and not evaluate(node.when, it.variables, it.ports.wall_clock()):
        return node.next
    prompt = node.prompt
    if node.notice:
        notice = await _notice(it, node.notice)
        prompt = (
            None if notice is None else Prompt(text=notice.text, translations=notice.translations)
        )
    if prompt is not None:
        it.ports.record_event({"type": "announce", "node": node.id, "notice": node.notice})
        await it.say(prompt, barge_in=False)
    return node.next


async def _notice(it: Interpreter, name: str) -> Any:
    if it.notices is None:
        return None
    try:
        return await it.notices(name)
    except Exception:  # a notice is optional; the caller must still get through
        log.warning("reading notice %r failed", name, exc_info=True)
        return None


async def run_language(it: Interpreter, node: LanguageNode) -> str | None:
    it.variables["language"] = node.language
    it.voice = node.voice
    it.ports.record_event({"type": "language", "language": node.language})
    return node.next


async def run_hangup(it: Interpreter, node: HangupNode) -> str | None:
    await it.say(node.prompt, barge_in=False)
    return None


HANDLERS: dict[str, Handler] = {
    "say": run_say,
    "menu": run_menu,
    "collect": run_collect,
    "branch": run_branch,
    "set": run_set,
    "announce": run_announce,
    "language": run_language,
    "hangup": run_hangup,
}


def _register_handoffs() -> None:
    from ivr import handoff

    HANDLERS.update(handoff.HANDLERS)


_register_handoffs()
