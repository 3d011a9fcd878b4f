"""Node handlers that reach outside the call: CRM look-ups, queues, transfer, voicemail,
callback requests and the post-call survey."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ivr.conditions import spaced_digits
from ivr.ports import QueueTicket
from ivr.schema import (
    CallbackNode,
    LookupNode,
    Prompt,
    QueueNode,
    SurveyNode,
    TransferNode,
    VoicemailNode,
)

if TYPE_CHECKING:
    from ivr.interpreter import Interpreter

#: outcomes of `CallPorts.enqueue` after which no agent talked to the caller
NO_AGENT = frozenset({None, "timeout"})
BUSY_OFFER = Prompt(
    text="To leave a message, press 1. To be called back, press 2.",
    translations={
        "pl": "Aby zostawić wiadomość, naciśnij 1. Aby zamówić oddzwonienie, naciśnij 2."
    },
)
NO_TRANSFER = Prompt(
    text="Sorry, I cannot transfer your call right now.",
    translations={"pl": "Niestety nie mogę teraz przełączyć rozmowy."},
)


# -- lookup ----------------------------------------------------------------------------------


async def run_lookup(it: Interpreter, node: LookupNode) -> str | None:
    started = it.ports.now()
    outcome, found = "unavailable", None
    if it.crm is not None:
        work = _lookup_work(it, node)
        if work is None:
            outcome = "not_found"
        else:
            outcome, found = await it.within_budget(
                work, node.budget, node.one_moment_after, node.one_moment_prompt
            )
            outcome = outcome if outcome != "ok" else "found" if found else "not_found"
    it.ports.record_event(
        {
            "type": "lookup",
            "node": node.id,
            "action": node.action,
            "outcome": outcome,
            "wait_ms": round((it.ports.now() - started) * 1000),
        }
    )
    if outcome == "found":
        return await _found(it, node, found)
    if outcome == "not_found":
        await it.say(node.not_found_prompt)
        return node.not_found
    await it.say(node.failure_prompt)
    return node.failure or node.not_found


def _lookup_work(it: Interpreter, node: LookupNode) -> Awaitable[Any] | None:
    if node.action == "order_by_number":
        number = str(it.variables.get(node.order_variable) or "")
        return it.crm.order(number) if number else None
    if node.action == "customer":
        return _customer(it)
    customer_id = it.variables.get("crm.id")
    return it.crm.latest_order(customer_id) if customer_id is not None else None


async def _customer(it: Interpreter) -> Any:
    return await it.customer()


async def _found(it: Interpreter, node: LookupNode, found: Any) -> str | None:
    if node.action == "customer":
        return node.next
    values = order_variables(node.store_as, found, it.language)
    it.variables.update(values)
    if node.speak:
        await it.say(Prompt(text=values[f"{node.store_as}.status_text"]))
    return node.next


def order_variables(prefix: str, order: Any, language: str) -> dict[str, Any]:
    """``order.*`` variables of a CRM order (``status_text`` is one spoken sentence)."""
    spoken = getattr(order, "spoken_status", None)
    text = spoken(language) if callable(spoken) else f"Your order is {order.status}."
    eta = getattr(order, "eta", None)
    return {
        f"{prefix}.number": order.number,
        f"{prefix}.number_spoken": spaced_digits(order.number),
        f"{prefix}.status": order.status,
        f"{prefix}.status_text": text,
        f"{prefix}.carrier": getattr(order, "carrier", None) or "",
        f"{prefix}.tracking": getattr(order, "tracking", None) or "",
        f"{prefix}.eta": eta.isoformat() if eta is not None else "",
    }


# -- queue and transfer ----------------------------------------------------------------------


async def run_queue(it: Interpreter, node: QueueNode) -> str | None:
    priority = node.priority + (node.vip_boost if it.variables.get("vip") else 0)
    await it.say(node.prompt, barge_in=False)
    if it.ports.ended():
        return None
    event = {"type": "queue", "queue": node.queue, "priority": priority, "skills": node.skills}
    it.ports.record_event(event)
    ticket = QueueTicket(node.queue, dict(node.skills), priority, it.language, _context(it))
    outcome = await it.ports.enqueue(ticket)
    it.variables["queue.outcome"] = outcome or "unavailable"
    it.ports.record_event(
        {"type": "queue_result", "queue": node.queue, "outcome": outcome or "unavailable"}
    )
    if outcome not in NO_AGENT:
        return None if outcome == "abandoned" else node.next
    await it.say(node.busy_prompt)
    if node.no_agents:
        return node.no_agents
    await _busy_offer(it, node)
    return None


def _context(it: Interpreter) -> dict[str, Any]:
    """What the agent's screen shows about the IVR part of the call."""
    shown = {k: v for k, v in it.variables.items() if not k.startswith("crm.")}
    return {"ivr_path": list(it.path), "variables": shown, "flow": it.flow.name}


async def _busy_offer(it: Interpreter, node: QueueNode) -> None:
    """No queue and no ``no_agents`` edge: offer a message or a callback, then end."""
    answer = await it.ports.ask(it.utter(BUSY_OFFER), it.expect(6.0))
    if answer.kind == "dtmf" and answer.value == "2":
        await run_callback(it, CallbackNode(id=f"{node.id}.callback"))
    elif answer.kind != "hangup":
        await run_voicemail(it, VoicemailNode(id=f"{node.id}.voicemail"))


async def run_transfer(it: Interpreter, node: TransferNode) -> str | None:
    await it.say(node.prompt, barge_in=False)
    if it.ports.ended():
        return None
    outcome = await it.ports.transfer(node.target)
    it.ports.record_event({"type": "transfer", "target": node.target, "outcome": outcome})
    if outcome == "transferred":
        it.end_reason = "transferred"
        return None
    if node.next:
        return node.next
    await it.say(NO_TRANSFER, barge_in=False)
    return None


# -- voicemail, callback, survey -------------------------------------------------------------


async def run_voicemail(it: Interpreter, node: VoicemailNode) -> str | None:
    await it.say(node.prompt, barge_in=False)
    if it.ports.ended():
        return None
    await it.ports.beep()
    recording = await it.ports.record_audio(node.max_seconds, node.end_key)
    it.variables["voicemail.path"] = recording.path or ""
    it.ports.record_event(
        {"type": "voicemail", "path": recording.path, "seconds": round(recording.seconds, 2)}
    )
    if it.ports.ended():
        return None
    await it.say(node.thanks_prompt, barge_in=False)
    return node.next


async def run_callback(it: Interpreter, node: CallbackNode) -> str | None:
    for _ in range(node.retries + 1):
        answer = await it.ports.ask(it.utter(node.prompt), it.expect(node.timeout))
        if answer.kind == "hangup":
            return None
        if answer.kind == "dtmf":
            answer = await it.gather_digits(answer.value, node.max_length, "#", 3.0)
        number = _callback_number(it, node, answer.value if answer.kind == "dtmf" else "")
        if number:
            it.variables[node.variable] = number
            it.ports.record_event({"type": "callback", "node": node.id, "number": number})
            await it.say(node.thanks_prompt, barge_in=False)
            return node.next
        it.failed(node.id, "noinput" if answer.kind == "noinput" else "invalid")
    it.ports.record_event({"type": "callback", "node": node.id, "number": None})
    return node.next


def _callback_number(it: Interpreter, node: CallbackNode, keyed: str) -> str | None:
    if keyed == "1":
        from crm_bridge import normalize_phone

        return normalize_phone(it.ports.caller) or it.ports.caller
    if node.min_length <= len(keyed) <= node.max_length:
        return keyed
    return None


async def run_survey(it: Interpreter, node: SurveyNode) -> str | None:
    grammar = "digits" if node.speech else None
    expect = it.expect(node.timeout, grammar, min_len=1, max_len=1)
    for _ in range(node.retries + 1):
        answer = await it.ports.ask(it.utter(node.prompt), expect)
        if answer.kind == "hangup":
            break
        score = answer.value[-1:] if answer.kind in ("dtmf", "speech") else ""
        if score in ("1", "2", "3", "4", "5"):
            it.variables["survey.score"] = int(score)
            it.ports.record_event({"type": "survey", "score": int(score), "by": answer.kind})
            await it.say(node.thanks_prompt, barge_in=False)
            return node.next
        it.failed(node.id, "noinput" if answer.kind == "noinput" else "nomatch")
    it.ports.record_event({"type": "survey", "score": None})
    return None if it.ports.ended() else node.next


Handler = Callable[["Interpreter", Any], Awaitable[str | None]]
HANDLERS: dict[str, Handler] = {
    "lookup": run_lookup,
    "queue": run_queue,
    "transfer": run_transfer,
    "voicemail": run_voicemail,
    "callback": run_callback,
    "survey": run_survey,
}
