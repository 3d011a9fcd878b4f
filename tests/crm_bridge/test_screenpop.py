"""The screen-pop from a realistic call record and the demo CRM; JSON all the way."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from crm_bridge import demo as d
from crm_bridge.lookup import CallLookup
from crm_bridge.screenpop import build_screen_pop, ivr_summary, offer_screen_pop
from crm_bridge.writeback import interaction_from_events
from hotline.store import Store

from .slow import SlowCrm

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
CALLER = f'"Katarzyna" <sip:{d.DEMO_VIP_PHONE}@192.0.2.7:5060;user=phone>'

# What the media layer, the IVR and the speech service append while the VIP goes through
# the demo flow: greeting, language menu by key, intent by voice, order number by keys.
IVR_EVENTS: list[dict[str, Any]] = [
    {"type": "prompt", "text": "Welcome to Nordlys Home"},
    {"type": "node", "node": "welcome", "kind": "say"},
    {"type": "node", "node": "language", "kind": "menu"},
    {"type": "dtmf", "digit": "1", "source": "rfc4733"},
    {"type": "node", "node": "intent", "kind": "collect"},
    {
        "type": "speech",
        "text": "where is my order",
        "value": "order_status",
        "confidence": 0.82,
        "grammar": "phrases",
        "engine": "pocketsphinx",
        "latency_ms": 210.0,
        "outcome": "match",
    },
    {"type": "node", "node": "order_number", "kind": "collect"},
    *({"type": "dtmf", "digit": k, "source": "rfc4733"} for k in d.DEMO_ORDER_PROCESSING),
    {"type": "dtmf", "digit": "#", "source": "rfc4733"},
    {"type": "node", "node": "lookup_order", "kind": "lookup"},
    {"type": "node", "node": "to_agent", "kind": "queue"},
    {"type": "queued", "queue": "orders"},
]


async def _recorded_events(store: Store) -> list[dict[str, object]]:
    record_id = await store.calls.create("pop-1@host", CALLER, "sip:100@hotline", None, NOW)
    for event in IVR_EVENTS:
        await store.calls.append_event(record_id, event)
    record = await store.calls.get(record_id)
    assert record is not None
    return record.events


async def test_screen_pop_of_a_vip_after_the_ivr(store: Store) -> None:
    crm = await d.seed_crm_demo(store, now=NOW)
    events = await _recorded_events(store)
    lookup = CallLookup(crm, "pop-1@host", CALLER).start()
    await lookup.final()
    pop = build_screen_pop(lookup, events, wait_seconds=12.34)

    assert json.loads(json.dumps(pop)) == pop  # goes over the WebSocket as is
    assert pop["status"] == "ready" and pop["vip"] is True
    assert pop["caller"]["name"] == d.DEMO_VIP_NAME
    assert pop["caller"]["number"] == d.DEMO_VIP_PHONE
    assert pop["last_order"]["number"] == d.DEMO_ORDER_PROCESSING
    assert pop["last_order"]["status"] == "processing"
    assert {o["status"] for o in pop["orders"]} == {"processing", "delivered"}
    contact = pop["history"][0]
    assert contact["queue"] == "orders" and contact["agent"] == "agent2"
    assert contact["disposition"] == "complaint" and "drip tray" in contact["notes"]
    assert pop["tickets"][0]["subject"].startswith("Espresso machine")
    assert pop["ivr"]["path"] == [
        "welcome",
        "language",
        "intent",
        "order_number",
        "lookup_order",
        "to_agent",
    ]
    assert [(i["kind"], i["node"], i["text"]) for i in pop["ivr"]["inputs"]] == [
        ("dtmf", "language", "1"),
        ("speech", "intent", "where is my order"),
        ("dtmf", "order_number", d.DEMO_ORDER_PROCESSING + "#"),
    ]
    assert pop["ivr"]["inputs"][1]["value"] == "order_status"
    assert pop["wait_seconds"] == 12.3


async def test_pending_screen_pop_then_ready(store: Store) -> None:
    crm = await d.seed_crm_demo(store, now=NOW)
    slow = SlowCrm(crm)
    lookup = CallLookup(slow, "pop-2@host", f"sip:{d.DEMO_CUSTOMER_PHONE}@h").start()
    pushed: list[dict[str, object]] = []
    lookup.subscribe(lambda result: pushed.append(build_screen_pop(result, IVR_EVENTS, 3.0)))

    offer = await offer_screen_pop(lookup, IVR_EVENTS, 3.0, budget=0.01)
    assert offer["status"] == "pending"
    assert offer["caller"]["number"] == d.DEMO_CUSTOMER_PHONE and offer["caller"]["name"] is None
    assert offer["ivr"]["path"][0] == "welcome"  # the IVR part needs no CRM

    slow.gate.set()
    await lookup.final()
    assert len(pushed) == 1 and pushed[0]["status"] == "ready"
    assert pushed[0]["caller"]["name"] == d.DEMO_CUSTOMER_NAME  # type: ignore[index]


async def test_unknown_caller_shows_the_raw_user() -> None:
    lookup = CallLookup(SlowCrm(None), "x", "sip:alice@example.com").start()  # type: ignore[arg-type]
    pop = build_screen_pop(lookup)
    assert pop["status"] == "ready" and pop["caller"]["number"] == "alice"
    assert pop["caller"]["known"] is False and pop["orders"] == [] and pop["ivr"]["path"] == []


def test_ivr_summary_ignores_strange_events() -> None:
    summary = ivr_summary(
        [{"type": "node"}, {"type": "dtmf"}, {"no": "type"}, {"type": "node", "id": "a"}]
    )
    assert summary == {"path": ["a"], "inputs": []}


def test_interaction_from_events_keeps_path_and_transcript() -> None:
    interaction = interaction_from_events(
        call_id="c",
        caller_uri=CALLER,
        started_at=NOW,
        events=IVR_EVENTS,
        queue="orders",
        agent="agent1",
        disposition="order_status",
        resolved=True,
    )
    assert interaction.phone == d.DEMO_VIP_PHONE
    assert interaction.ivr_path[-1] == "to_agent"
    assert [t["text"] for t in interaction.transcript] == ["1", "where is my order", "100301#"]
