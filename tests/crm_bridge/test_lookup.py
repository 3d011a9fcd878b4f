"""The per-call look-up: cached by Call-ID, bounded by a budget, pending then updated."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from crm_bridge import demo as d
from crm_bridge.lookup import CallLookup, CallLookups, LookupResult
from crm_bridge.postgres import PostgresCrm
from hotline.store import Store

from .slow import SlowCrm

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture
async def crm(store: Store) -> PostgresCrm:
    return await d.seed_crm_demo(store, now=NOW)


async def test_known_caller_ready_with_orders_history_tickets(crm: PostgresCrm) -> None:
    lookup = CallLookup(crm, "c1", f"sip:{d.DEMO_VIP_PHONE}@10.0.0.9;user=phone").start()
    result = await lookup.final()
    assert result.status == "ready" and result.found
    assert result.customer is not None and result.customer.name == d.DEMO_VIP_NAME
    assert result.orders[0].number == d.DEMO_ORDER_PROCESSING
    assert result.history and result.tickets
    assert result.elapsed is not None and result.elapsed >= 0


async def test_unknown_and_anonymous_callers_are_ready_without_customer(
    crm: PostgresCrm,
) -> None:
    unknown = await CallLookup(crm, "c1", f"sip:{d.DEMO_UNKNOWN_PHONE}@h").start().final()
    assert unknown.status == "ready" and not unknown.found and unknown.phone
    anonymous = CallLookup(crm, "c2", "sip:anonymous@anonymous.invalid").start()
    assert anonymous.done  # nothing to ask the CRM: no task at all
    assert anonymous.current.status == "ready" and anonymous.current.phone is None


async def test_slow_crm_gives_pending_within_budget_then_updates(crm: PostgresCrm) -> None:
    slow = SlowCrm(crm)
    lookup = CallLookup(slow, "c1", d.DEMO_CUSTOMER_PHONE).start()
    updates: list[LookupResult] = []
    lookup.subscribe(updates.append)

    first = await lookup.result(budget=0.01)  # the offer goes out now, not when the CRM answers
    assert first.status == "pending" and first.customer is None
    assert first.phone == d.DEMO_CUSTOMER_PHONE
    assert updates == []

    slow.gate.set()  # the CRM answers
    final = await lookup.final()
    assert final.status == "ready" and final.customer is not None
    assert final.customer.name == d.DEMO_CUSTOMER_NAME
    assert updates == [final]  # subscribers hear it exactly once
    assert (await lookup.result(budget=0)) is final
    late: list[LookupResult] = []
    lookup.subscribe(late.append)  # subscribing after the end: told at once
    assert late == [final]
    assert slow.calls.count("customer_by_phone") == 1


async def test_failing_crm_never_raises(crm: PostgresCrm) -> None:
    slow = SlowCrm(crm, fail=ConnectionResetError("CRM went away"))
    slow.gate.set()
    result = await CallLookup(slow, "c1", d.DEMO_CUSTOMER_PHONE).start().final()
    assert result.status == "failed" and "CRM went away" in (result.error or "")


async def test_waiter_cancelled_leaves_lookup_running(crm: PostgresCrm) -> None:
    slow = SlowCrm(crm)
    lookup = CallLookup(slow, "c1", d.DEMO_CUSTOMER_PHONE).start()
    waiter = asyncio.create_task(lookup.result(budget=60))
    await asyncio.sleep(0)
    waiter.cancel()  # e.g. the caller hung up while the IVR waited
    with pytest.raises(asyncio.CancelledError):
        await waiter
    slow.gate.set()
    assert (await lookup.final()).status == "ready"


async def test_registry_caches_per_call_and_drops_oldest(crm: PostgresCrm) -> None:
    slow = SlowCrm(crm)
    lookups = CallLookups(max_cached=2)
    first = lookups.start(slow, "a", d.DEMO_CUSTOMER_PHONE)
    assert lookups.start(slow, "a", d.DEMO_CUSTOMER_PHONE) is first  # one look-up per call
    lookups.start(slow, "b", d.DEMO_VIP_PHONE)
    lookups.start(slow, "c", d.DEMO_VIP_PHONE)
    assert lookups.get("a") is None and len(lookups) == 2
    await asyncio.sleep(0)
    assert first._task is not None and first._task.cancelled()
    lookups.forget("b")
    assert lookups.get("b") is None
    slow.gate.set()
    assert (await lookups.get("c").final()).found  # type: ignore[union-attr]
