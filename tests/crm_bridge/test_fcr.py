"""First-contact resolution: resolved, and no other contact on the topic within 7 days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from crm_bridge import Interaction
from crm_bridge.fcr import fcr_figures, first_contact_resolved
from crm_bridge.postgres import PostgresCrm
from hotline.store import Store

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
ANNA = "+48601234567"
BOB = "+48601234568"


async def _contact(crm: PostgresCrm, key: str, phone: str, days: float, **kwargs: Any) -> int:
    interaction = Interaction(
        key=key, call_id=key, phone=phone, started_at=T0 + timedelta(days=days), **kwargs
    )
    await crm.record_interaction(interaction)
    return await crm.outbox._pool.fetchval("SELECT id FROM crm_interactions WHERE key = $1", key)


async def test_fcr_rules(store: Store) -> None:
    crm = PostgresCrm(store)
    await crm.upsert_customer("anna", "Anna", [ANNA])
    once = await _contact(crm, "a1", ANNA, 0, queue="orders", resolved=True)
    # Anna calls again about billing 2 days later: another topic, a1 stays FCR
    billing = await _contact(crm, "a2", ANNA, 2, queue="billing", resolved=True)
    # ... and about billing again 5 days after that: both billing calls lose FCR
    again = await _contact(crm, "a3", ANNA, 7, queue="billing", topic=None, resolved=True)
    # unresolved is never FCR; an unknown caller is matched by number
    unresolved = await _contact(crm, "b1", BOB, 0, queue="orders", resolved=False)
    bob = await _contact(crm, "b2", BOB, 20, queue="orders", resolved=True)
    late = T0 + timedelta(days=60)

    assert await first_contact_resolved(store.pool, once, late) is True
    assert await first_contact_resolved(store.pool, billing, late) is False
    assert await first_contact_resolved(store.pool, again, late) is False
    assert await first_contact_resolved(store.pool, unresolved, late) is False
    assert await first_contact_resolved(store.pool, bob, late) is True  # 20 days apart
    # within 7 days of the contact the answer is not known yet
    assert await first_contact_resolved(store.pool, bob, T0 + timedelta(days=22)) is None
    assert await first_contact_resolved(store.pool, 999_999, late) is None

    figures = await fcr_figures(store.pool, T0, T0 + timedelta(days=30), late)
    assert (figures.contacts, figures.resolved, figures.first_contact_resolved) == (5, 4, 2)
    assert figures.rate == 2 / 5
    orders = await fcr_figures(store.pool, T0, T0 + timedelta(days=30), late, queue="orders")
    assert orders.contacts == 3 and orders.first_contact_resolved == 2
    early = await fcr_figures(store.pool, T0, T0 + timedelta(days=30), T0 + timedelta(days=21))
    assert early.undecided == 1 and early.rate == 1 / 4
