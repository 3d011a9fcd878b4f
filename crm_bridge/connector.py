"""The connector interface every CRM implements (Contract B), and the registry of them.

The IVR, the screen-pop and the write-back talk to a `Crm`; which one is configuration.
Look-ups take an E.164 number (see `crm_bridge.phone.normalize_phone`).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from crm_bridge.models import Customer, Interaction, Order, Ticket


@runtime_checkable
class Crm(Protocol):
    """Read what the CRM knows about a caller; write back what happened on the call."""

    async def customer_by_phone(self, e164: str) -> Customer | None:
        """The customer who owns this number, or None."""
        ...

    async def order(self, order_number: str) -> Order | None:
        """The order with this number, or None."""
        ...

    async def latest_order(self, customer_id: int) -> Order | None:
        """The customer's most recently placed order, or None."""
        ...

    async def orders(self, customer_id: int, limit: int = 5) -> list[Order]:
        """The customer's latest orders, newest first."""
        ...

    async def history(self, customer_id: int, limit: int = 5) -> list[Interaction]:
        """The customer's latest contacts, newest first."""
        ...

    async def open_tickets(self, customer_id: int) -> list[Ticket]:
        """Tickets not closed yet, most recently updated first."""
        ...

    async def record_interaction(self, interaction: Interaction) -> None:
        """Write a finished contact back (durably queued; delivered with retries)."""
        ...


class InteractionSink(Protocol):
    """Where the outbox relay delivers interactions.

    ``conn`` is the outbox's own connection, inside the transaction that marks the entry
    delivered: a sink writing to the same database uses it (delivery and mark commit
    together, exactly once); a remote sink ignores it and relies on the idempotency key.
    """

    async def deliver(self, interaction: Interaction, conn: Any) -> None: ...
