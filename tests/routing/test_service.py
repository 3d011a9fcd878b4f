"""RoutingService over a real PostgreSQL: Contract C, the agent sessions, rows and history."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from hotline.store import Store
from routing import QueueRequest
from routing.agents import AgentError, NullAgentMedia
from routing.model import QueueConfig
from routing.service import RoutingService
from tests.routing.fakes import Desk, FakeCall, seed

Q = 3600.0  # announce_every: no announcements unless a test wants them


@pytest.fixture
async def acd(store: Store, tmp_path: Any) -> AsyncIterator[RoutingService]:
    await seed(
        store,
        [
            QueueConfig("orders", {"orders": 1}, ring_timeout=5, wrap_up=60, announce_every=Q),
            QueueConfig("billing", {"billing": 1}, ring_timeout=5, wrap_up=60, announce_every=Q),
        ],
        {"agent1": {"orders": 3}, "agent2": {"orders": 1, "billing": 2}},
    )
    service = RoutingService(store, node="test", voicemail_dir=tmp_path / "vm", screen_pop=None)
    await service.start()
    yield service
    await service.stop()


async def desk(service: RoutingService, username: str, ready: bool = True) -> Desk:
    session = await service.sign_in(username)
    d = Desk(session)
    await d.wait_for("state")
    if ready:
        await session.set_ready()
        await d.wait_for("state", state="available")
    return d


async def test_a_caller_is_offered_answered_and_wrapped_up(
    acd: RoutingService, store: Store
) -> None:
    agent = await desk(acd, "agent1")
    call = FakeCall("call-1")
    request = QueueRequest("orders", context={"ivr_path": ["welcome", "menu"], "said": "order"})
    caller = asyncio.ensure_future(acd.enqueue(call, request))  # type: ignore[arg-type]
    offer = await agent.wait_for("offer")
    assert offer["context"] == request.context and offer["queue"] == "orders"
    assert offer["call"]["caller"] == call.caller and call.background is not None  # music
    await agent.session.answer(offer["offer_id"])
    await agent.wait_for("connected")
    assert acd.snapshot("agent1")["state"] == "on_call"
    assert isinstance(acd.media, NullAgentMedia) and acd.media.log == [
        ("connect", "agent1", "call-1")
    ]
    await agent.session.hangup()
    outcome = await caller
    assert (outcome.kind, outcome.agent, outcome.queue) == ("answered", "agent1", "orders")
    await agent.wait_for("ended", reason="agent_hangup")
    wrap = await agent.wait_for("wrap_up")
    assert wrap["until"] is not None
    await agent.session.wrap_up_done("resolved", "told the ETA", resolved=True)
    assert acd.snapshot("agent1")["state"] == "available"
    history = [state for state, _, _ in await acd.rows.history("agent1")]
    assert history == ["not_ready", "available", "reserved", "on_call", "wrap_up", "available"]
    saved = await store.pool.fetchrow("SELECT * FROM routing_wrap_ups")
    assert (saved["call_id"], saved["disposition"], saved["resolved"]) == (
        "call-1",
        "resolved",
        True,
    )
    assert [r["outcome"] for r in await acd.rows.reservations()] == ["answered"]
    assert await acd.rows.waiting() == []
    assert "offer" in call.types() and "agent_ended" in call.types()
    await agent.close()


async def test_rona_the_call_reaches_the_second_agent(acd: RoutingService) -> None:
    await acd.save_queue(QueueConfig("orders", {"orders": 1}, ring_timeout=0.3, announce_every=Q))
    sleepy = await desk(acd, "agent1")
    call = FakeCall("call-1")
    caller = asyncio.ensure_future(acd.enqueue(call, QueueRequest("orders")))  # type: ignore[arg-type]
    first = await sleepy.wait_for("offer")
    awake = await desk(acd, "agent2")
    cancelled = await sleepy.wait_for("offer_cancelled")
    assert cancelled == {"type": "offer_cancelled", "offer_id": first["offer_id"], "reason": "rona"}
    assert acd.snapshot("agent1")["state"] == "not_ready"
    assert acd.snapshot("agent1")["reason"] == "rona"
    second = await awake.wait_for("offer")
    with pytest.raises(AgentError):
        await sleepy.session.answer(first["offer_id"])
    await awake.session.answer(second["offer_id"])
    await call.hangup()  # the caller hangs up during the talk
    outcome = await caller
    assert (outcome.kind, outcome.agent) == ("answered", "agent2")
    await awake.wait_for("ended", reason="caller_hangup")
    outcomes = [r["outcome"] for r in await acd.rows.reservations()]
    assert outcomes == ["rona", "answered"]
    await sleepy.close()
    await awake.close()


async def test_caller_hanging_up_while_ringing_cancels_the_offer(acd: RoutingService) -> None:
    agent = await desk(acd, "agent1")
    call = FakeCall("call-1")
    caller = asyncio.ensure_future(acd.enqueue(call, QueueRequest("orders")))  # type: ignore[arg-type]
    await agent.wait_for("offer")
    call.ended.set()
    outcome = await caller
    assert outcome.kind == "abandoned"
    await agent.wait_for("offer_cancelled", reason="abandoned")
    await agent.wait_for("state", state="available")
    assert acd.metrics()["queues"]["orders"]["abandoned"] == 1
    await agent.close()


async def test_max_wait_callback_keeps_the_place_and_is_offered_later(
    acd: RoutingService,
) -> None:
    await acd.save_queue(
        QueueConfig(
            "orders", {"orders": 1}, max_wait=0.2, max_wait_action="callback", announce_every=Q
        )
    )
    call = FakeCall("call-1")
    outcome = await acd.enqueue(call, QueueRequest("orders"))  # type: ignore[arg-type]
    assert outcome.kind == "callback"
    assert any("call you back" in text for text in call.said)
    [row] = await acd.rows.waiting()
    assert row["kind"] == "callback"
    agent = await desk(acd, "agent1", ready=False)
    await agent.session.set_ready()
    offer = await agent.wait_for("offer")
    assert offer["callback"] is True and offer["call"]["caller"] == call.caller
    await agent.session.answer(offer["offer_id"])
    await agent.session.hangup()
    await agent.wait_for("wrap_up")
    await agent.close()


async def test_max_wait_voicemail_records_the_caller(acd: RoutingService, tmp_path: Any) -> None:
    await acd.save_queue(
        QueueConfig(
            "billing", {"billing": 1}, max_wait=0.2, max_wait_action="voicemail", announce_every=Q
        )
    )
    call = FakeCall("call-vm")
    outcome = await acd.enqueue(call, QueueRequest("billing"))  # type: ignore[arg-type]
    assert outcome.kind == "voicemail"
    assert (tmp_path / "vm" / "call-vm.wav").exists()
    assert "voicemail" in call.types()


async def test_announcements_tell_position_and_estimated_wait(acd: RoutingService) -> None:
    await acd.save_queue(QueueConfig("orders", {"orders": 1}, announce_every=0.05))
    first, second = FakeCall("c1"), FakeCall("c2")
    waiting = [
        asyncio.ensure_future(acd.enqueue(c, QueueRequest("orders")))  # type: ignore[arg-type]
        for c in (first, second)
    ]
    async with asyncio.timeout(10):
        while not second.said:
            await asyncio.sleep(0.02)
    assert second.said[0].startswith("You are number 2 in the queue.")
    assert "minutes" in second.said[0]
    for c in (first, second):
        c.ended.set()
    assert [(await w).kind for w in waiting] == ["abandoned", "abandoned"]


async def test_disconnected_desktop_goes_not_ready_after_grace(acd: RoutingService) -> None:
    acd.disconnect_grace = 0.1
    agent = await desk(acd, "agent1")
    agent.session.disconnect()
    await agent.wait_for("state", state="not_ready", reason="disconnected")
    again = await acd.sign_in("agent1")
    assert again is agent.session  # reconnect: the same session
    await agent.close()


async def test_reconnect_during_a_call_restores_it(acd: RoutingService) -> None:
    acd.disconnect_grace = 0.05
    agent = await desk(acd, "agent1")
    call = FakeCall("call-1")
    caller = asyncio.ensure_future(acd.enqueue(call, QueueRequest("orders")))  # type: ignore[arg-type]
    offer = await agent.wait_for("offer")
    await agent.session.answer(offer["offer_id"])
    agent.session.disconnect()
    await asyncio.sleep(0.2)  # past the grace period: the call must survive
    session = await acd.sign_in("agent1")
    snapshot = session.snapshot()
    assert snapshot["state"] == "on_call" and snapshot["call"]["offer_id"] == offer["offer_id"]
    await session.hangup()
    assert (await caller).kind == "answered"
    assert acd.snapshot("agent1")["state"] == "wrap_up"
    await agent.close()


async def test_blind_transfer_to_a_queue(acd: RoutingService) -> None:
    first = await desk(acd, "agent1")
    call = FakeCall("call-1")
    caller = asyncio.ensure_future(acd.enqueue(call, QueueRequest("orders")))  # type: ignore[arg-type]
    offer = await first.wait_for("offer")
    await first.session.answer(offer["offer_id"])
    with pytest.raises(AgentError):
        await first.session.transfer("queue:nowhere")
    second = await desk(acd, "agent2")
    await first.session.transfer("billing")
    await first.wait_for("ended", reason="transferred")
    moved = await second.wait_for("offer")
    assert moved["queue"] == "billing" and moved["transferred_from"] == "agent1"
    await second.session.answer(moved["offer_id"])
    await second.session.hangup()
    outcome = await caller
    assert (outcome.kind, outcome.agent, outcome.queue) == ("answered", "agent2", "billing")
    assert acd.media.log[-1] == ("disconnect", "agent2", "call-1")  # type: ignore[attr-defined]
    await first.close()
    await second.close()


async def test_hold_plays_music_and_dtmf_reaches_the_caller(acd: RoutingService) -> None:
    agent = await desk(acd, "agent1")
    call = FakeCall("call-1")
    caller = asyncio.ensure_future(acd.enqueue(call, QueueRequest("orders")))  # type: ignore[arg-type]
    offer = await agent.wait_for("offer")
    await agent.session.answer(offer["offer_id"])
    assert call.background is None  # NullAgentMedia bridges nothing
    await agent.session.hold(True)
    assert call.background is not None
    await agent.session.hold(False)
    assert call.background is None
    agent.session.send_dtmf("12#")
    assert call.digits == ["12#"]
    await agent.session.hangup()
    await caller
    assert isinstance(acd.media, NullAgentMedia)
    assert [a for a, _, _ in acd.media.log] == ["connect", "hold", "resume", "disconnect"]
    await agent.close()


async def test_unknown_queue_and_non_agent_accounts(acd: RoutingService, store: Store) -> None:
    outcome = await acd.enqueue(FakeCall("x"), QueueRequest("nowhere"))  # type: ignore[arg-type]
    assert outcome.kind == "timeout"
    with pytest.raises(AgentError):
        await acd.sign_in("nobody")
