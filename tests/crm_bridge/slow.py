"""A connector wrapper that answers late or fails: the slow CRM of the look-up tests."""

from __future__ import annotations

import asyncio
from typing import Any

from crm_bridge import Crm, Customer, Interaction, Order, Ticket


class SlowCrm:
    """Delegates to ``inner``; each read waits for ``gate`` (set it to let answers through).

    A gate rather than a sleep: the test decides when the CRM "answers", so nothing
    depends on wall-clock time.
    """

    def __init__(self, inner: Crm, *, fail: BaseException | None = None) -> None:
        self.inner = inner
        self.gate = asyncio.Event()
        self.fail = fail
        self.calls: list[str] = []

    async def _slow(self, name: str, *args: Any) -> Any:
        self.calls.append(name)
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return await getattr(self.inner, name)(*args)

    async def customer_by_phone(self, e164: str) -> Customer | None:
        return await self._slow("customer_by_phone", e164)

    async def order(self, order_number: str) -> Order | None:
        return await self._slow("order", order_number)

    async def latest_order(self, customer_id: int) -> Order | None:
        return await self._slow("latest_order", customer_id)

    async def orders(self, customer_id: int, limit: int = 5) -> list[Order]:
        return await self._slow("orders", customer_id, limit)

    async def history(self, customer_id: int, limit: int = 5) -> list[Interaction]:
        return await self._slow("history", customer_id, limit)

    async def open_tickets(self, customer_id: int) -> list[Ticket]:
        return await self._slow("open_tickets", customer_id)

    async def record_interaction(self, interaction: Interaction) -> None:
        await self.inner.record_interaction(interaction)
