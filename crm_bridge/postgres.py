"""The built-in CRM: customers, phones, orders, tickets and interactions in Hotline's PostgreSQL.

Reads are one indexed query each. Write-back goes through the outbox
(`crm_bridge.outbox`): `record_interaction` queues durably and delivers at once when it
can; the relay retries what could not be delivered. Because the CRM lives in the same
database as the outbox, the interaction row and the outbox's "delivered" mark commit in
one transaction, so each interaction is stored exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from crm_bridge.models import Customer, Interaction, Order, OrderStatus, Ticket
from crm_bridge.outbox import Outbox
from crm_bridge.phone import normalize_phone
from hotline.store import Store

_CUSTOMER = (
    "SELECT c.id, c.name, c.email, c.language, c.vip, c.flags,"
    " coalesce(array_agg(p.e164 ORDER BY p.e164) FILTER (WHERE p.e164 IS NOT NULL), '{}')"
    " AS phones FROM crm_customers c LEFT JOIN crm_phones p ON p.customer_id = c.id"
)
_ORDER = (
    "SELECT number, customer_id, status, placed_at, total, currency, carrier, tracking, eta,"
    " shipped_at, delivered_at, summary FROM crm_orders"
)
_TICKET = (
    "SELECT id, customer_id, subject, status, priority, order_number, created_at, updated_at"
    " FROM crm_tickets"
)
_INTERACTION = (
    "SELECT id, key, call_id, customer_id, phone, channel, started_at, ended_at, queue, agent,"
    " disposition, topic, notes, resolved, ivr_path, transcript, wait_seconds, talk_seconds"
    " FROM crm_interactions"
)


class PostgresCrm:
    """`crm_bridge.Crm` over ``store.pool``; also the sink its own outbox delivers to."""

    name = "postgres"

    def __init__(self, store: Store, *, default_region: str = "PL") -> None:
        self._pool = store.pool
        self.default_region = default_region
        self.outbox = Outbox(store.pool, self)

    async def start(self) -> None:
        """Start the outbox relay (retries of write-backs that could not go at once)."""
        self.outbox.start()

    async def stop(self) -> None:
        """Stop the relay; undelivered entries stay in the outbox for the next start."""
        await self.outbox.stop()

    # -- reads (Contract B) -------------------------------------------------------------

    async def customer_by_phone(self, e164: str) -> Customer | None:
        """The customer who owns this number (normalized first), or None."""
        number = normalize_phone(e164, self.default_region)
        if number is None:
            return None
        row = await self._pool.fetchrow(
            f"{_CUSTOMER} WHERE c.id = (SELECT customer_id FROM crm_phones WHERE e164 = $1)"
            " GROUP BY c.id",
            number,
        )
        return None if row is None else _customer(row)

    async def customer(self, customer_id: int) -> Customer | None:
        """The customer with this id, or None."""
        row = await self._pool.fetchrow(f"{_CUSTOMER} WHERE c.id = $1 GROUP BY c.id", customer_id)
        return None if row is None else _customer(row)

    async def order(self, order_number: str) -> Order | None:
        """The order with this number (spaces ignored), or None."""
        row = await self._pool.fetchrow(
            f"{_ORDER} WHERE number = $1", "".join(order_number.split())
        )
        return None if row is None else _order(row)

    async def latest_order(self, customer_id: int) -> Order | None:
        """The customer's most recently placed order, or None."""
        found = await self.orders(customer_id, limit=1)
        return found[0] if found else None

    async def orders(self, customer_id: int, limit: int = 5) -> list[Order]:
        """The customer's latest orders, newest first."""
        rows = await self._pool.fetch(
            f"{_ORDER} WHERE customer_id = $1 ORDER BY placed_at DESC, number DESC LIMIT $2",
            customer_id,
            limit,
        )
        return [_order(row) for row in rows]

    async def history(self, customer_id: int, limit: int = 5) -> list[Interaction]:
        """The customer's latest contacts, newest first."""
        rows = await self._pool.fetch(
            f"{_INTERACTION} WHERE customer_id = $1 ORDER BY started_at DESC, id DESC LIMIT $2",
            customer_id,
            limit,
        )
        return [_interaction(row) for row in rows]

    async def history_by_phone(self, e164: str, limit: int = 5) -> list[Interaction]:
        """Latest contacts from this number (for callers who are not customers yet)."""
        rows = await self._pool.fetch(
            f"{_INTERACTION} WHERE phone = $1 ORDER BY started_at DESC, id DESC LIMIT $2",
            e164,
            limit,
        )
        return [_interaction(row) for row in rows]

    async def open_tickets(self, customer_id: int) -> list[Ticket]:
        """Tickets not closed yet, most recently updated first."""
        rows = await self._pool.fetch(
            f"{_TICKET} WHERE customer_id = $1 AND status <> 'closed'"
            " ORDER BY updated_at DESC, id DESC",
            customer_id,
        )
        return [_ticket(row) for row in rows]

    # -- write-back ---------------------------------------------------------------------

    async def record_interaction(self, interaction: Interaction) -> None:
        """Queue ``interaction`` in the outbox and deliver it now if the database lets us.

        Never raises for a database outage: what cannot be queued is kept in memory and
        the relay retries it.
        """
        await self.outbox.put(interaction)

    async def deliver(self, interaction: Interaction, conn: Any) -> None:
        """Store ``interaction`` on ``conn`` (the outbox's transaction); a repeat is a no-op.

        An interaction without a customer is linked to the owner of its number, so a
        call taken before the customer was known still shows in their history.
        """
        await conn.execute(
            "INSERT INTO crm_interactions (key, call_id, customer_id, phone, channel,"
            " started_at, ended_at, queue, agent, disposition, topic, notes, resolved,"
            " ivr_path, transcript, wait_seconds, talk_seconds)"
            " VALUES ($1, $2, coalesce($3, (SELECT customer_id FROM crm_phones"
            " WHERE e164 = $4)), $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
            " ON CONFLICT (key) DO NOTHING",
            interaction.idempotency_key,
            interaction.call_id,
            interaction.customer_id,
            interaction.phone,
            interaction.channel,
            interaction.started_at,
            interaction.ended_at,
            interaction.queue,
            interaction.agent,
            interaction.disposition,
            interaction.topic,
            interaction.notes,
            interaction.resolved,
            list(interaction.ivr_path),
            [dict(entry) for entry in interaction.transcript],
            interaction.wait_seconds,
            interaction.talk_seconds,
        )

    # -- administration (demo seed, imports, tests) -------------------------------------

    async def upsert_customer(
        self,
        ref: str,
        name: str,
        phones: Iterable[str],
        *,
        email: str | None = None,
        language: str = "en",
        vip: bool = False,
        flags: Mapping[str, Any] | None = None,
    ) -> int:
        """Create or update the customer with external key ``ref``; returns its id.

        Phone numbers are normalized; ones that are not phone numbers raise ValueError.
        A number another customer had moves to this one.
        """
        numbers = [_required_phone(phone, self.default_region) for phone in phones]
        async with self._pool.acquire() as conn, conn.transaction():
            customer_id: int = await conn.fetchval(
                "INSERT INTO crm_customers (ref, name, email, language, vip, flags)"
                " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (ref) DO UPDATE SET"
                " name = excluded.name, email = excluded.email, language = excluded.language,"
                " vip = excluded.vip, flags = excluded.flags RETURNING id",
                ref,
                name,
                email,
                language,
                vip,
                dict(flags or {}),
            )
            for number in numbers:
                await conn.execute(
                    "INSERT INTO crm_phones (e164, customer_id) VALUES ($1, $2)"
                    " ON CONFLICT (e164) DO UPDATE SET customer_id = excluded.customer_id",
                    number,
                    customer_id,
                )
        return customer_id

    async def upsert_order(self, order: Order) -> None:
        """Create or replace the order with ``order.number``."""
        await self._pool.execute(
            "INSERT INTO crm_orders (number, customer_id, status, placed_at, total, currency,"
            " carrier, tracking, eta, shipped_at, delivered_at, summary)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            " ON CONFLICT (number) DO UPDATE SET customer_id = excluded.customer_id,"
            " status = excluded.status, placed_at = excluded.placed_at, total = excluded.total,"
            " currency = excluded.currency, carrier = excluded.carrier,"
            " tracking = excluded.tracking, eta = excluded.eta, shipped_at = excluded.shipped_at,"
            " delivered_at = excluded.delivered_at, summary = excluded.summary",
            order.number,
            order.customer_id,
            order.status,
            order.placed_at,
            order.total,
            order.currency,
            order.carrier,
            order.tracking,
            order.eta,
            order.shipped_at,
            order.delivered_at,
            order.summary,
        )

    async def upsert_ticket(
        self,
        ref: str,
        customer_id: int,
        subject: str,
        *,
        status: str = "open",
        priority: str = "normal",
        order_number: str | None = None,
        created_at: datetime,
        updated_at: datetime | None = None,
    ) -> int:
        """Create or update the ticket with external key ``ref``; returns its id."""
        ticket_id: int = await self._pool.fetchval(
            "INSERT INTO crm_tickets (ref, customer_id, subject, status, priority, order_number,"
            " created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            " ON CONFLICT (ref) DO UPDATE SET customer_id = excluded.customer_id,"
            " subject = excluded.subject, status = excluded.status,"
            " priority = excluded.priority, order_number = excluded.order_number,"
            " created_at = excluded.created_at, updated_at = excluded.updated_at RETURNING id",
            ref,
            customer_id,
            subject,
            status,
            priority,
            order_number,
            created_at,
            updated_at or created_at,
        )
        return ticket_id


def _required_phone(value: str, region: str) -> str:
    number = normalize_phone(value, region)
    if number is None:
        raise ValueError(f"not a phone number: {value!r}")
    return number


def _customer(row: Mapping[str, Any]) -> Customer:
    return Customer(
        id=row["id"],
        name=row["name"],
        phones=list(row["phones"]),
        vip=row["vip"],
        language=row["language"],
        flags=dict(row["flags"]),
        email=row["email"],
    )


def _order(row: Mapping[str, Any]) -> Order:
    status: OrderStatus = row["status"]
    eta: date | None = row["eta"]
    total: Decimal = row["total"]
    return Order(
        number=row["number"],
        customer_id=row["customer_id"],
        status=status,
        placed_at=row["placed_at"],
        total=total,
        currency=row["currency"],
        carrier=row["carrier"],
        tracking=row["tracking"],
        eta=eta,
        shipped_at=row["shipped_at"],
        delivered_at=row["delivered_at"],
        summary=row["summary"],
    )


def _ticket(row: Mapping[str, Any]) -> Ticket:
    return Ticket(
        id=row["id"],
        customer_id=row["customer_id"],
        subject=row["subject"],
        status=row["status"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        priority=row["priority"],
        order_number=row["order_number"],
    )


def _interaction(row: Mapping[str, Any]) -> Interaction:
    return Interaction(
        id=row["id"],
        key=row["key"],
        call_id=row["call_id"],
        customer_id=row["customer_id"],
        phone=row["phone"],
        channel=row["channel"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        queue=row["queue"],
        agent=row["agent"],
        disposition=row["disposition"],
        topic=row["topic"],
        notes=row["notes"],
        resolved=row["resolved"],
        ivr_path=tuple(row["ivr_path"]),
        transcript=tuple(row["transcript"]),
        wait_seconds=row["wait_seconds"],
        talk_seconds=row["talk_seconds"],
    )
