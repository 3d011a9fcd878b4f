"""``POST /api/v1/flows/{id}/simulate``: the request's script in, the simulated call out.

Body: ``{"script": [{"digits": "1"}, {"says": "order status"}, {"silence": true}, ...],
"caller"?: "+48601000001", "at"?: "2026-11-23T10:00:00+01:00"}``; each step is what the
caller does when the flow next waits for input: key ``digits`` (one or more DTMF keys),
say something (``says``), or stay silent (``silence``: the no-input path). Answer:
``{"path": [node ids], "prompts": [{"node_id", "text"}], "variables": {...}, "ended": bool,
"outcome": str | null, "waiting_at": node id | null, "events": [...]}``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from agent_desktop.errors import bad_request
from agent_desktop.flows_body import optional_string

MAX_STEPS = 100
MAX_UTTERANCE = 500
MAX_CALLER = 64
DTMF_KEYS = frozenset("0123456789*#ABCD")


def parse_script(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The checked ``script`` of a simulate request (400 naming the bad step)."""
    script = body.get("script", [])
    if not isinstance(script, list):
        raise bad_request("'script' must be a list of steps", field="script")
    if len(script) > MAX_STEPS:
        raise bad_request(f"'script' has more than {MAX_STEPS} steps", field="script")
    return [_step(step, f"script.{i}") for i, step in enumerate(script)]


def _step(step: Any, where: str) -> dict[str, Any]:
    if not isinstance(step, dict) or len(step) != 1:
        raise bad_request(
            f'{where!r} must be one of {{"digits": ...}}, {{"says": ...}}, {{"silence": true}}',
            field=where,
        )
    ((kind, value),) = step.items()
    if kind == "digits":
        if not isinstance(value, str) or not value or not set(value) <= DTMF_KEYS:
            raise bad_request(
                f"'{where}.digits' must be DTMF keys (0-9, *, #, A-D)", field=f"{where}.digits"
            )
        return {"digits": value[:64]}
    if kind == "says":
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_UTTERANCE:
            raise bad_request(
                f"'{where}.says' must be a non-empty string of at most {MAX_UTTERANCE} characters",
                field=f"{where}.says",
            )
        return {"says": value.strip()}
    if kind == "silence" and value is True:
        return {"silence": True}
    raise bad_request(f"{where!r}: unknown step {kind!r}; use digits, says or silence", field=where)


@dataclass(frozen=True, slots=True)
class SimulationRequest:
    """A checked simulate body: the script, who calls, and when (for business hours)."""

    script: list[dict[str, Any]]
    caller: str | None
    at: datetime | None


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
    return SimulationRequest(parse_script(body), caller, moment)


async def run_simulation(
    document: dict[str, Any], request: SimulationRequest, *, crm: Any = None
) -> dict[str, Any]:
    """Simulate ``document`` (valid) under the request's script; the answer's JSON."""
    from ivr.simulate import simulate  # the IVR core; imported late so the API loads without it

    kwargs: dict[str, Any] = {"crm": crm, "now": request.at or datetime.now(UTC)}
    if request.caller is not None:
        kwargs["caller"] = request.caller
    result = await _maybe_await(simulate(document, request.script, **kwargs))
    return result_json(result)


async def _maybe_await(value: Any) -> Any:
    return await value if hasattr(value, "__await__") else value


def result_json(result: Any) -> dict[str, Any]:
    """The simulator's result as plain JSON for the editor."""
    is_instance = dataclasses.is_dataclass(result) and not isinstance(result, type)
    raw = dataclasses.asdict(result) if is_instance else dict(result)
    plain: dict[str, Any] = _plain(raw)
    return plain


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
