"""Flow-building shorthands and an in-memory CRM (Contract B) on the fake clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from crm_bridge import Customer, Order
from ivr.fakeclock import FakeClock

#: a Tuesday noon in Warsaw: open by the demo flow's hours
OPEN = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
#: the same Tuesday at midnight in Warsaw: closed
CLOSED = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)
VIP_PHONE = "+48601000001"


def flow(*nodes: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"name": "t", "start": nodes[0]["id"], "nodes": list(nodes), **top}


def say(id: str, text: str, next: str | None = None, **kw: Any) -> dict[str, Any]:
    return {"id": id, "kind": "say", "prompt": {"text": text}, "next": next, **kw}


def bye(id: str = "bye", text: str = "Goodbye.") -> dict[str, Any]:
    return {"id": id, "kind": "hangup", "prompt": {"text": text}}


@dataclass
class MemoryCrm:
    """Contract B's `Crm` in memory; ``delay`` seconds of fake time per call."""

    clock: FakeClock
    customers: list[Customer] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    delay: float = 0.0
    fail: bool = False
    runs_on_fake_clock: bool = True
    calls: list[str] = field(default_factory=list)

    async def _wait(self, what: str) -> None:
        self.calls.append(what)
        if self.delay:
            await self.clock.sleep(self.delay)
        if self.fail:
            raise ConnectionError("CRM down")

    async def customer_by_phone(self, e164: str) -> Customer | None:
        await self._wait("customer")
        return next((c for c in self.customers if e164 in c.phones), None)

    async def order(self, order_number: str) -> Order | None:
        await self._wait("order")
        return next((o for o in self.orders if o.number == order_number), None)

    async def latest_order(self, customer_id: int) -> Order | None:
        await self._wait("latest_order")
        mine = [o for o in self.orders if o.customer_id == customer_id]
        return max(mine, key=lambda o: o.placed_at, default=None)


def shop_crm(clock: FakeClock, **kw: Any) -> MemoryCrm:
    vip = Customer(
        1, "Katarzyna Nowak", [VIP_PHONE], vip=True, language="pl", flags={"region": "pomorskie"}
    )
    placed = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    orders = [
        Order(
            "100234", 2, "shipped", placed, Decimal("99.00"), carrier="DPD", eta=date(2026, 11, 26)
        ),
        Order("100301", 1, "processing", placed, Decimal("10.00")),
    ]
    return MemoryCrm(clock, [vip], orders, **kw)
