"""PostgresCrm and the demo shop on a real PostgreSQL (Contract B)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
import pytest

from crm_bridge import ORDER_STATUSES, Crm, Interaction, Order
from crm_bridge import demo as d
from crm_bridge.postgres import PostgresCrm
from hotline.store import Store

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


async def test_demo_seed_answers_the_contract(store: Store) -> None:
    crm = await d.seed_crm_demo(store, now=NOW)
    assert isinstance(crm, Crm)
    vip = await crm.customer_by_phone(d.DEMO_VIP_PHONE)
    assert vip is not None and vip.vip and vip.name == d.DEMO_VIP_NAME
    assert d.DEMO_VIP_PHONE in vip.phones
    customer = await crm.customer_by_phone("sip:" + d.DEMO_CUSTOMER_PHONE + "@127.0.0.1")
    assert customer is not None and customer.name == d.DEMO_CUSTOMER_NAME and not customer.vip
    polish = await crm.customer_by_phone(d.DEMO_POLISH_PHONE)
    assert polish is not None and polish.language == "pl"
    assert await crm.customer_by_phone(d.DEMO_UNKNOWN_PHONE) is None
    assert await crm.customer_by_phone("garbage") is None

    latest = await crm.latest_order(customer.id)
    assert latest is not None and latest.number == d.DEMO_ORDER_SHIPPED
    assert [o.number for o in await crm.orders(customer.id)] == [
        d.DEMO_ORDER_SHIPPED,
        d.DEMO_ORDER_DELIVERED,
    ]
    history = await crm.history(customer.id)
    assert history and history[0].queue == "orders" and history[0].agent == "agent1"
    assert history[0].ivr_path[0] == "welcome"
    tickets = await crm.open_tickets(vip.id)
    assert tickets and tickets[0].priority == "high"
    assert await crm.order(d.DEMO_UNKNOWN_ORDER) is None


async def test_demo_has_every_status_coherent(store: Store) -> None:
    crm = await d.seed_crm_demo(store, now=NOW)
    for status in ORDER_STATUSES:
        order = await crm.order(d.DEMO_ORDERS_BY_STATUS[status])
        assert order is not None and order.status == status
    rows = await store.pool.fetch("SELECT * FROM crm_orders")
    assert {row["status"] for row in rows} == set(ORDER_STATUSES)
    for row in rows:
        parcel = row["status"] in ("shipped", "delivered", "returned")
        assert (row["carrier"] is not None) == parcel
        assert (row["tracking"] is not None) == parcel
        if row["status"] == "shipped":
            assert row["eta"] is not None and row["eta"] >= NOW.date()
    customers = await store.pool.fetch("SELECT name, language, vip FROM crm_customers")
    assert 25 <= len(customers) <= 40
    assert {c["language"] for c in customers} == {"en", "pl"}
    assert 2 <= sum(c["vip"] for c in customers) <= 3


async def test_demo_seed_is_idempotent(store: Store) -> None:
    await d.seed_crm_demo(store, now=NOW)
    counts = await _counts(store)
    await d.seed_crm_demo(store, now=NOW)
    assert await _counts(store) == counts


async def _counts(store: Store) -> tuple[int, ...]:
    tables = ("crm_customers", "crm_phones", "crm_orders", "crm_tickets", "crm_interactions")
    return tuple([await store.pool.fetchval(f"SELECT count(*) FROM {t}") for t in tables])


async def test_phones_are_stored_normalized(store: Store) -> None:
    crm = PostgresCrm(store)
    customer_id = await crm.upsert_customer(
        "x1", "Jan Nowak", ["0601 234 567", "tel:+4822-1234567"]
    )
    customer = await crm.customer_by_phone("+48601234567")
    assert customer is not None and customer.id == customer_id
    assert customer.phones == ["+48221234567", "+48601234567"]
    with pytest.raises(ValueError, match="not a phone number"):
        await crm.upsert_customer("x2", "Nobody", ["1001"])
    with pytest.raises(asyncpg.CheckViolationError):  # the table refuses non-E.164 too
        await store.pool.execute(
            "INSERT INTO crm_phones (e164, customer_id) VALUES ('0601234567', $1)", customer_id
        )


async def test_shipped_order_needs_carrier_and_tracking(store: Store) -> None:
    crm = PostgresCrm(store)
    customer_id = await crm.upsert_customer("x1", "Jan Nowak", ["+48601234567"])
    bad = Order("123", customer_id, "shipped", NOW, Decimal("10.00"))
    with pytest.raises(asyncpg.CheckViolationError):
        await crm.upsert_order(bad)


async def test_record_interaction_shows_in_history_of_the_number(store: Store) -> None:
    crm = await d.seed_crm_demo(store, now=NOW)
    customer = await crm.customer_by_phone(d.DEMO_CUSTOMER_PHONE)
    assert customer is not None
    interaction = Interaction(
        call_id="abc@host",
        started_at=NOW,
        phone=d.DEMO_CUSTOMER_PHONE,  # no customer id: linked through the number
        queue="orders",
        agent="agent2",
        disposition="order_status",
        notes="Where is 100234",
        resolved=True,
        ivr_path=("welcome", "menu"),
        transcript=({"source": "dtmf", "text": "100234"},),
    )
    await crm.record_interaction(interaction)
    await crm.record_interaction(interaction)  # a repeat is the same interaction
    history = await crm.history(customer.id)
    assert history[0].call_id == "abc@host" and history[0].customer_id == customer.id
    assert history[0].transcript == ({"source": "dtmf", "text": "100234"},)
    assert [h.call_id for h in history].count("abc@host") == 1
    assert (await crm.history_by_phone(d.DEMO_CUSTOMER_PHONE))[0].notes == "Where is 100234"
