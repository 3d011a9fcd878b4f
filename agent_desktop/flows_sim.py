"""``POST /api/v1/flows/{id}/simulate``: the request's script in, the simulated call out.

Body: ``{"script": [{"digits": "1"}, {"says": "order status"}, {"silence": true}, ...],
"caller"?: "+48601000001", "at"?: "2026-11-23T10:00:00+01:00", "agents"?: bool}``.
Each step is what the caller does when the flow next waits for input: key ``digits``
(one or more DTMF keys), say something (``says``, matched like the recognizer's grammar
would), or stay silent (``silence``: the no-input path). When the script runs out the
caller hangs up, so a script that stops mid-flow shows where the call would wait.
``at`` is the call's wall-clock time (business hours); ``agents`` whether an agent
answers a queue (default: nobody does, the busy path).

Answer: ``{"path": [node ids], "prompts": [{"node_id", "text"}], "variables", "events",
"reason", "seconds", "warnings": [validator errors], "waiting_at": node id or null}``;
``waiting_at`` is the node that was waiting for the caller when the script ran out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from agent_desktop.errors import bad_request
from agent_desktop.flows_body import optional_string
from ivr.simulate import SimulationResult, simulate

MAX_STEPS = 100
MAX_UTTERANCE = 500
MAX_CALLER = 64
MAX_DIGITS = 64
DTMF_KEYS = frozenset("0123456789*#ABCD")
_STEP_FORMS = '{"digits": "1"}, {"says": "agent"} or {"silence": true}'


@dataclass(frozen=True, slots=True)
class SimulationRequest:
    """A checked simulate body (steps in `ivr.simulate`'s script forms)."""

    script: list[Any]
    caller: str | None
    at: datetime | None
    agents: bool


def parse_request(body: dict[str, Any]) -> SimulationRequest:
    """Check a simulate body (400 naming the bad field)."""
    caller = optional_string(body, "caller", MAX_CALLER)
    at = optional_string(body, "at", 64)
    moment = None
    if at is not None:
        try:
            moment = datetime.fromisoformat(at)
        except ValueError:
            raise bad_request("'at' must be an ISO 8601 date and time", field="at") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    agents = body.get("agents", False)
    if not isinstance(agents, bool):
        raise bad_request("'agents' must be true or false", field="agents")
    return SimulationRequest(parse_script(body), caller, moment, agents)


def parse_script(body: dict[str, Any]) -> list[Any]:
    """The ``script`` of a simulate body in `ivr.simulate`'s forms (400 naming a bad step)."""
    script = body.get("script", [])
    if not isinstance(script, list):
        raise bad_request("'script' must be a list of steps", field="script")
    if len(script) > MAX_STEPS:
        raise bad_request(f"'script' has more than {MAX_STEPS} steps", field="script")
    return [_step(step, f"script.{i}") for i, step in enumerate(script)]


def _step(step: Any, where: str) -> Any:
    if not isinstance(step, dict) or len(step) != 1:
        raise bad_request(f"{where!r} must be one of {_STEP_FORMS}", field=where)
    ((kind, value),) = step.items()
    if kind == "digits":
        if not isinstance(value, str) or not 0 < len(value) <= MAX_DIGITS:
            value = ""
        if not value or not set(value.upper()) <= DTMF_KEYS:
            message = f"'{where}.digits' must be 1 to {MAX_DIGITS} DTMF keys (0-9, *, #, A-D)"
            raise bad_request(message, field=f"{where}.digits")
        return {"dtmf": value.upper()}
    if kind == "says":
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_UTTERANCE:
            message = f"'{where}.says' must be a non-empty string of at most {MAX_UTTERANCE} chars"
            raise bad_request(message, field=f"{where}.says")
        return {"say": value.strip()}
    if kind == "silence" and value is True:
        return {"silence": True}
    raise bad_request(f"{where!r}: unknown step {kind!r}; use {_STEP_FORMS}", field=where)


async def run_simulation(
    document: dict[str, Any],
    request: SimulationRequest,
    *,
    crm: Any = None,
    notices: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Simulate ``document`` (it must parse) under the request; the answer's JSON."""
    kwargs: dict[str, Any] = {}
    if request.caller is not None:
        kwargs["caller"] = request.caller
    result = await simulate(
        document,
        request.script,
        crm=crm,
        now=request.at or datetime.now(UTC),
        notices=notices or {},
        queue_outcome="answered" if request.agents else None,
        **kwargs,
    )
    return result_json(result)


def result_json(result: SimulationResult) -> dict[str, Any]:
    """The simulator's result for the editor: prompts tied to the node that spoke them."""
    answer = result.as_dict()
    answer["prompts"] = _prompts_by_node(result.events)
    hung_up = [e for e in result.events if e.get("type") == "hangup"]
    script_ran_out = bool(hung_up) and hung_up[-1].get("reason") == "remote_bye"
    answer["waiting_at"] = result.path[-1] if script_ran_out and result.path else None
    return answer


def _prompts_by_node(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    node_id = None
    prompts = []
    for event in events:
        if event.get("type") == "node":
            node_id = event.get("id")
        elif event.get("type") == "prompt":
            text = event.get("text") or event.get("file") or ""
            prompts.append({"node_id": node_id, "text": text})
    return prompts
