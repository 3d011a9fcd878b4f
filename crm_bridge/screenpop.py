"""The screen-pop: everything an agent sees about a call before answering it.

`build_screen_pop` is pure: the caller's CRM look-up (`crm_bridge.lookup`) as known at
that moment, the call record's events (what happened in the IVR) and the wait so far,
into one JSON-able dict. When the CRM has not answered yet the dict says
``"status": "pending"``; the ACD sends it with the offer and pushes a new one when the
look-up finishes (`CallLookup.subscribe`).

IVR events it reads from the call record (others are ignored):
``{"type": "node", "node": id, ...}`` (the IVR entered a node; ``id`` also accepted),
``{"type": "dtmf", "digit": "1"}`` (one per key; consecutive keys in one node are one
input), ``{"type": "speech", "text", "value", "outcome", "grammar"}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from crm_bridge.lookup import CallLookup, LookupResult
from crm_bridge.models import Interaction

ScreenPop = dict[str, Any]
Event = Mapping[str, Any]


def build_screen_pop(
    lookup: CallLookup | LookupResult,
    call_record_events: Sequence[Event] = (),
    wait_seconds: float | None = None,
) -> ScreenPop:
    """The screen-pop for a call, from what is known now (never waits, never raises)."""
    result = lookup.current if isinstance(lookup, CallLookup) else lookup
    customer = result.customer
    orders = [_order(o.to_json()) for o in result.orders]
    return {
        "status": result.status,
        "call_id": result.call_id,
        "caller": {
            "number": result.phone or _user_part(result.caller_uri),
            "uri": result.caller_uri,
            "known": customer is not None,
            "name": customer.name if customer else None,
            "customer_id": customer.id if customer else None,
            "vip": bool(customer and customer.vip),
            "language": customer.language if customer else None,
            "email": customer.email if customer else None,
            "flags": dict(customer.flags) if customer else {},
        },
        "vip": bool(customer and customer.vip),
        "last_order": orders[0] if orders else None,
        "orders": orders,
        "history": [_contact(i) for i in result.history],
        "tickets": [_ticket(t.to_json()) for t in result.tickets],
        "ivr": ivr_summary(call_record_events),
        "wait_seconds": None if wait_seconds is None else round(wait_seconds, 1),
        "crm_ms": None if result.elapsed is None else round(result.elapsed * 1000, 1),
        "error": result.error,
    }


async def offer_screen_pop(
    lookup: CallLookup,
    call_record_events: Sequence[Event] = (),
    wait_seconds: float | None = None,
    *,
    budget: float | None = None,
) -> ScreenPop:
    """The screen-pop after waiting at most ``budget`` s for the CRM (the offer's version)."""
    return build_screen_pop(await lookup.result(budget), call_record_events, wait_seconds)


def ivr_summary(events: Sequence[Event]) -> dict[str, Any]:
    """The IVR path (node ids, repeats kept) and what the caller keyed or said, in order."""
    path: list[str] = []
    inputs: list[dict[str, Any]] = []
    keys: dict[str, Any] | None = None  # the DTMF input being typed
    for event in events:
        kind = event.get("type")
        if kind == "node":
            node = event.get("node") or event.get("id")
            if node:
                path.append(str(node))
            keys = None
        elif kind == "dtmf" and event.get("digit"):
            if keys is None:
                keys = {"kind": "dtmf", "node": _last(path), "text": "", "t": event.get("t")}
                inputs.append(keys)
            keys["text"] += str(event["digit"])
        elif kind == "speech":
            keys = None
            inputs.append(_speech(event, _last(path)))
    return {"path": path, "inputs": inputs}


def _speech(event: Event, node: str | None) -> dict[str, Any]:
    return {
        "kind": "speech",
        "node": node,
        "text": event.get("text") or "",
        "value": event.get("value"),
        "outcome": event.get("outcome"),
        "confidence": event.get("confidence"),
        "t": event.get("t"),
    }


def _last(path: list[str]) -> str | None:
    return path[-1] if path else None


def _user_part(uri: str) -> str:
    """``sip:alice@host`` -> ``alice``: something to show for a number we cannot parse."""
    text = uri.strip().strip("<>")
    for scheme in ("sip:", "sips:", "tel:"):
        if text.lower().startswith(scheme):
            text = text[len(scheme) :]
            break
    return text.split("@", 1)[0].split(";", 1)[0]


def _order(order: dict[str, Any]) -> dict[str, Any]:
    keep = ("number", "status", "placed_at", "total", "currency", "summary", "carrier", "tracking")
    return {key: order[key] for key in (*keep, "eta")}


def _ticket(ticket: dict[str, Any]) -> dict[str, Any]:
    keep = ("id", "subject", "status", "priority", "order_number", "updated_at")
    return {key: ticket[key] for key in keep}


def _contact(interaction: Interaction) -> dict[str, Any]:
    return {
        "date": interaction.started_at.isoformat(),
        "queue": interaction.queue,
        "agent": interaction.agent,
        "disposition": interaction.disposition,
        "notes": interaction.notes,
        "resolved": interaction.resolved,
        "ivr_path": list(interaction.ivr_path),
    }
