"""The ACD's two CRM seams: the screen-pop sent with an offer, the write-back at wrap-up.

Both are plain callables on `RoutingService` (``screen_pop``, ``wrap_up_hooks``) so the ACD
runs without a CRM; these defaults use the CRM bridge (`crm_bridge`) when it is installed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from hotline.store import Store
from media.call import Call
from routing.contract import QueueRequest

log = logging.getLogger(__name__)

#: (call, request, wait so far, update) -> the screen-pop now (None: no CRM for this call);
#: ``update(pop)`` pushes a newer one to the ringing desktop when the look-up finishes
ScreenPopHook = Callable[[Call, QueueRequest, float, Callable[[dict[str, Any]], None]], Any]
#: the wrap-up: {"call_id", "agent", "queue", "disposition", "notes", "resolved", "at",
#: "context", "wait_seconds", "talk_seconds"}
WrapUpHook = Callable[[dict[str, Any]], Awaitable[None] | None]


def ivr_events(context: dict[str, Any]) -> list[dict[str, Any]]:
    """The IVR steps as call-record events, from the queue request's context."""
    events = context.get("events")
    if isinstance(events, list):
        return events
    return [{"type": "node", "node": node} for node in context.get("ivr_path", ())]


def crm_screen_pop(
    call: Call, request: QueueRequest, wait: float, update: Callable[[dict[str, Any]], None]
) -> dict[str, Any] | None:
    """`crm_bridge.screenpop.build_screen_pop` from the caller's look-up (started at INVITE).

    Never waits: a look-up still running gives a ``pending`` pop now and ``update`` later.
    """
    try:
        from crm_bridge.lookup import LOOKUPS
        from crm_bridge.screenpop import build_screen_pop
    except ImportError:  # a server without the CRM bridge
        return None
    lookup = LOOKUPS.get(call.call_id)
    if lookup is None:
        return None
    events = ivr_events(request.context)
    if not lookup.done:
        lookup.subscribe(lambda result: update(build_screen_pop(result, events, wait)))
    pop: dict[str, Any] = build_screen_pop(lookup, events, wait)
    return pop


def crm_write_back(store: Store, crm: Any) -> WrapUpHook:
    """A wrap-up hook recording the interaction in the CRM (through its outbox)."""

    async def write_back(record: dict[str, Any]) -> None:
        from crm_bridge.writeback import interaction_for_call

        if record.get("call_id") is None:
            return
        interaction = await interaction_for_call(
            store, record["call_id"], queue=record.get("queue"), agent=record.get("agent"),
            disposition=record.get("disposition"), notes=record.get("notes", ""),
            resolved=bool(record.get("resolved")), wait_seconds=record.get("wait_seconds"),
            talk_seconds=record.get("talk_seconds"),
        )  # fmt: skip
        await crm.record_interaction(interaction)

    return write_back
