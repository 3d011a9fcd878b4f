"""Building the interaction written back at wrap-up from what the call left behind.

The agent desktop (or the ACD) calls, once the wrap-up form is done::

    interaction = await interaction_for_call(
        store, call_id, queue="orders", agent="agent1", disposition="order_status",
        notes="...", resolved=True, wait_seconds=12.5, talk_seconds=184.0)
    await services.crm.record_interaction(interaction)

The caller's number, the IVR path and what the caller keyed or said come from the call
record; the customer from the call's look-up when it found one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from crm_bridge.lookup import lookup_for
from crm_bridge.models import Interaction
from crm_bridge.phone import DEFAULT_REGION, normalize_phone
from crm_bridge.screenpop import ivr_summary
from hotline.store import CallRecord, Store


async def call_record_for(store: Store, call_id: str) -> CallRecord | None:
    """The latest call record with this SIP Call-ID, or None."""
    record_id = await store.pool.fetchval(
        "SELECT id FROM calls WHERE call_id = $1 ORDER BY id DESC LIMIT 1", call_id
    )
    return None if record_id is None else await store.calls.get(record_id)


async def interaction_for_call(
    store: Store,
    call_id: str,
    *,
    queue: str | None,
    agent: str | None,
    disposition: str | None,
    notes: str = "",
    resolved: bool = False,
    topic: str | None = None,
    wait_seconds: float | None = None,
    talk_seconds: float | None = None,
    default_region: str = DEFAULT_REGION,
) -> Interaction:
    """The interaction for ``call_id`` with the wrap-up form's fields."""
    record = await call_record_for(store, call_id)
    lookup = lookup_for(call_id)
    customer = lookup.current.customer if lookup is not None else None
    return interaction_from_events(
        call_id=call_id,
        caller_uri=record.from_uri if record else (lookup.caller_uri if lookup else ""),
        started_at=record.started_at if record else datetime.now(UTC),
        ended_at=record.ended_at if record else None,
        events=record.events if record else (),
        customer_id=customer.id if customer else None,
        queue=queue,
        agent=agent,
        disposition=disposition,
        notes=notes,
        resolved=resolved,
        topic=topic,
        wait_seconds=wait_seconds,
        talk_seconds=talk_seconds,
        default_region=default_region,
    )


def interaction_from_events(
    *,
    call_id: str,
    caller_uri: str,
    started_at: datetime,
    events: Sequence[Mapping[str, Any]] = (),
    ended_at: datetime | None = None,
    customer_id: int | None = None,
    default_region: str = DEFAULT_REGION,
    **wrap_up: Any,
) -> Interaction:
    """Pure part of `interaction_for_call`: the IVR path and transcript from ``events``."""
    ivr = ivr_summary(events)
    transcript = tuple(
        {"t": entry["t"], "source": entry["kind"], "node": entry["node"], "text": entry["text"]}
        for entry in ivr["inputs"]
    )
    return Interaction(
        call_id=call_id,
        started_at=started_at,
        ended_at=ended_at,
        phone=normalize_phone(caller_uri, default_region),
        customer_id=customer_id,
        ivr_path=tuple(ivr["path"]),
        transcript=transcript,
        **wrap_up,
    )
