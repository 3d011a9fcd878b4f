"""FlowStore on a real PostgreSQL: drafts, immutable versions, rollback, diff, numbers."""

from __future__ import annotations

import asyncpg
import pytest

from hotline.store import Store
from ivr.demo import DEMO_NUMBERS, demo_flow_doc, seed_demo_flow
from ivr.store import FlowInvalid, FlowNotFound, FlowStore, number_keys

from .helpers import bye, flow, say

pytestmark = pytest.mark.peer

V1 = flow(say("a", "Version one.", "bye"), bye())
V2 = flow(say("a", "Version two.", "b"), say("b", "New node.", "bye"), bye())


async def test_publish_versions_rollback_and_diff(store: Store) -> None:
    flows = FlowStore(store)
    flow_id = await flows.create("Sales", V1, by="ann")
    assert (await flows.get(flow_id)).published_version is None
    assert await flows.publish(flow_id, by="ann", comment="first") == 1
    await flows.update_draft(flow_id, V2, by="bob")
    assert await flows.publish(flow_id, by="bob") == 2
    assert await flows.rollback(flow_id, 1, by="ann") == 3
    versions = await flows.versions(flow_id)
    assert [(v.version, v.published_by, v.source_version) for v in versions] == [
        (3, "ann", 1),
        (2, "bob", None),
        (1, "ann", None),
    ]
    assert versions[0].doc == V1 and versions[0].comment == "rollback to version 1"
    diff = await flows.diff(flow_id, 1, 2)
    assert diff.added == ["b"] and diff.removed == []
    assert {c.path for c in diff.changed["a"]} == {"prompt.text", "next"}
    draft_diff = await flows.diff(flow_id, 3)  # version 3 against the draft
    assert {c.path: c.after for c in draft_diff.changed["a"]}["prompt.text"] == "Version two."


async def test_invalid_draft_is_saved_but_not_published(store: Store) -> None:
    flows = FlowStore(store)
    flow_id = await flows.create("Broken", flow(say("a", "", "nowhere")))
    with pytest.raises(FlowInvalid) as caught:
        await flows.publish(flow_id)
    assert {(e.node_id, e.field) for e in caught.value.errors} == {
        ("a", "next"),
        ("a", "prompt.text"),
    }
    assert await flows.versions(flow_id) == []
    with pytest.raises(FlowNotFound):
        await flows.version(flow_id, 1)


async def test_versions_are_immutable_in_the_database(store: Store) -> None:
    flows = FlowStore(store)
    flow_id = await flows.create("Sales", V1)
    await flows.publish(flow_id)
    with pytest.raises(asyncpg.RaiseError, match="immutable"):
        await store.pool.execute(
            "UPDATE ivr_flow_versions SET comment = 'x' WHERE flow_id = $1", flow_id
        )


async def test_numbers_map_request_uris_to_the_live_version(store: Store) -> None:
    flows = FlowStore(store)
    sales = await flows.create("Sales", V1)
    support = await flows.create("Support", V2)
    await flows.publish(sales)
    await flows.publish(support)
    await flows.map_number("sales", sales)
    await flows.map_number("*", support)
    live = await flows.live_version_for("sip:sales@10.0.0.1:5060;transport=udp")
    assert live is not None and (live.flow_id, live.version, live.doc) == (sales, 1, V1)
    other = await flows.live_version_for("<sip:+48221234567@10.0.0.1>")
    assert other is not None and other.flow_id == support
    await flows.unmap_number("*")
    assert await flows.live_version_for("sip:nobody@x") is None
    assert number_keys("tel:+48221234567") == ["+48221234567", "tel:+48221234567", "*"]


async def test_demo_seed_is_idempotent_and_publishes_a_clean_flow(store: Store) -> None:
    first = await seed_demo_flow(store)
    assert await seed_demo_flow(store) == first
    flows = FlowStore(store)
    assert [v.version for v in await flows.versions(first)] == [1]
    for number in DEMO_NUMBERS:
        live = await flows.live_version_for(f"sip:{number}@127.0.0.1")
        assert live is not None and live.doc == demo_flow_doc()
    notice = await flows.notice("delivery_delay")
    assert notice is not None and not notice.active
