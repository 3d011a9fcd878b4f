"""The live port hands the queue what the caller did in the IVR, for the agent's screen-pop."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from crm_bridge.screenpop import ivr_summary
from ivr.live import LiveCall
from ivr.ports import Expect, QueueTicket
from media.call import Call
from media.dtmf.events import DtmfDigit
from routing.contract import QueueOutcome, QueueRequest


class KeyedCall:
    """A call whose caller has already typed ``keys`` (nothing plays, nothing waits)."""

    call_id, caller, called = "c1", "sip:+48601000002@x", "sip:shop@x"

    def __init__(self, keys: str) -> None:
        self.keys = [DtmfDigit(key, "rfc4733", 100, 0.0) for key in keys]
        self.ended = asyncio.Event()
        self.recorded: list[dict[str, Any]] = []

    async def next_event(self, timeout: float | None = None) -> DtmfDigit:
        return self.keys.pop(0)

    def record_event(self, event: dict[str, Any]) -> None:
        self.recorded.append(event)


class Queue:
    def __init__(self) -> None:
        self.requests: list[QueueRequest] = []

    async def enqueue(self, call: Call, request: QueueRequest) -> QueueOutcome:
        self.requests.append(request)
        return QueueOutcome("answered", request.queue)


async def test_queue_request_carries_the_nodes_and_keys_the_flow_took() -> None:
    call, queue = KeyedCall("10100234"), Queue()
    ports = LiveCall(cast(Call, call), queueing=queue)
    ports.record_event({"type": "node", "id": "choose_language", "kind": "menu"})
    assert (await ports.ask(None, Expect(timeout=5))).value == "1"
    ports.record_event({"type": "node", "id": "main_menu", "kind": "menu"})
    assert (await ports.ask(None, Expect(timeout=5))).value == "0"
    ports.record_event({"type": "node", "id": "ask_order", "kind": "collect"})
    for _ in range(6):
        await ports.next_digit(1.0)
    ports.record_event({"type": "prompt", "text": "not an IVR step"})

    outcome = await ports.enqueue(QueueTicket("orders", {}, 0, "en", {"ivr_path": ["x"]}))

    assert outcome == "answered"
    [request] = queue.requests
    assert request.context["ivr_path"] == ["x"]  # the interpreter's context is kept
    summary = ivr_summary(request.context["events"])
    assert summary["path"] == ["choose_language", "main_menu", "ask_order"]
    keyed = [(i["node"], i["text"]) for i in summary["inputs"]]
    assert keyed == [("choose_language", "1"), ("main_menu", "0"), ("ask_order", "100234")]
    assert len(call.recorded) == 4  # every event still reaches the call record
