"""The e-commerce demo flow (``demo_flow.json``), seeded by ``hotline serve --demo``.

Call ``sip:shop@<server>`` (or ``5000`` from a desk phone): welcome, English/Polish,
VIPs greeted by name and queued first, the main menu (1 order status, 2 returns,
3 billing, 0 agent), callback or voicemail outside business hours (Europe/Warsaw),
the supervisor notice ``delivery_delay`` when switched on, a survey after the agent.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from ivr.store import FlowStore

DEMO_FLOW_NAME = "Shop hotline (demo)"
DEMO_NUMBERS = ("shop", "5000")
DEMO_NOTICE = "delivery_delay"


def demo_flow_doc() -> dict[str, Any]:
    """The demo flow document (a fresh copy)."""
    text = resources.files("ivr").joinpath("demo_flow.json").read_text(encoding="utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


async def seed_demo_flow(store: Any) -> int:
    """Create and publish the demo flow and map its numbers, unless it exists; its id.

    Idempotent: a supervisor's later edits and versions of the demo flow are kept.
    """
    flows = FlowStore(store)
    existing = [f for f in await flows.list() if f.name == DEMO_FLOW_NAME]
    if existing:
        flow_id = existing[0].id
    else:
        flow_id = await flows.create(DEMO_FLOW_NAME, demo_flow_doc(), by="demo")
        await flows.publish(flow_id, by="demo", comment="demo flow")
    mapped = await flows.numbers()
    for number in DEMO_NUMBERS:
        if number not in mapped:
            await flows.map_number(number, flow_id, "demo shop hotline")
    if await flows.notice(DEMO_NOTICE) is None:
        await flows.set_notice(
            DEMO_NOTICE,
            "Deliveries to the Pomorskie region are delayed by one day because of the weather.",
            translations={"pl": "Dostawy na Pomorze są opóźnione o jeden dzień z powodu pogody."},
            active=False,
            by="demo",
        )
    return flow_id
