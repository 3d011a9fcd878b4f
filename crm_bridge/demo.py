"""The demo shop behind ``hotline serve --demo``: customers, orders, tickets, past calls.

"Nordlys Home", a Polish online shop for kitchen and home goods, with customers who speak
English or Polish. The numbers and order numbers below are what the SIPp, baresip and
Chromium tests call from and key in; the SIP From user is the E.164 number
(``sip:+48601000001@host``).

Dates are relative to the seeding time so "shipped yesterday, arriving on Thursday"
stays true on any day. Seeding is idempotent: every row has a fixed key, and seeding
again refreshes the rows rather than adding copies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from crm_bridge.models import Interaction, Order, OrderStatus
from crm_bridge.postgres import PostgresCrm
from hotline.store import Store

#: a VIP (English): latest order processing, an open high-priority ticket
DEMO_VIP_PHONE = "+48601000001"
DEMO_VIP_NAME = "Katarzyna Nowak"
#: an ordinary customer (English): latest order shipped, one earlier call in history
DEMO_CUSTOMER_PHONE = "+48601000002"
DEMO_CUSTOMER_NAME = "James Carter"
#: a customer the IVR speaks Polish to
DEMO_POLISH_PHONE = "+48601000003"
DEMO_POLISH_NAME = "Piotr Wiśniewski"
#: a second VIP, calling from a UK mobile
DEMO_UK_VIP_PHONE = "+447700900123"
DEMO_UK_VIP_NAME = "Oliver Bennett"
#: a number the CRM does not know (screen-pop "unknown caller")
DEMO_UNKNOWN_PHONE = "+48601999999"

#: one order per status; the first two belong to DEMO_CUSTOMER_PHONE
DEMO_ORDER_SHIPPED = "100234"
DEMO_ORDER_DELIVERED = "100118"
DEMO_ORDER_PROCESSING = "100301"  # the VIP's
DEMO_ORDER_RETURNED = "100187"  # the Polish customer's
DEMO_ORDER_CANCELLED = "100256"  # the Polish customer's
DEMO_ORDERS_BY_STATUS: dict[OrderStatus, str] = {
    "processing": DEMO_ORDER_PROCESSING,
    "shipped": DEMO_ORDER_SHIPPED,
    "delivered": DEMO_ORDER_DELIVERED,
    "returned": DEMO_ORDER_RETURNED,
    "cancelled": DEMO_ORDER_CANCELLED,
}
DEMO_UNKNOWN_ORDER = "999999"

_CARRIERS = ("InPost", "DPD", "DHL", "Poczta Polska")
_PRODUCTS = (
    ("Espresso machine", Decimal("1299.00")),
    ("Cast-iron casserole, 24 cm", Decimal("489.99")),
    ("Linen bed set, 160x200", Decimal("349.00")),
    ("Chef's knife set", Decimal("259.50")),
    ("Stand mixer", Decimal("1899.00")),
    ("Wool throw, grey", Decimal("199.00")),
    ("Ceramic dinner set for six", Decimal("429.00")),
    ("Electric kettle", Decimal("149.99")),
    ("Cordless vacuum cleaner", Decimal("1099.00")),
    ("Bath towels, set of four", Decimal("179.00")),
    ("Air fryer", Decimal("549.00")),
    ("Coffee grinder", Decimal("299.00")),
)
_STATUS_CYCLE: tuple[OrderStatus, ...] = (
    "delivered",
    "shipped",
    "processing",
    "delivered",
    "returned",
    "delivered",
    "cancelled",
    "shipped",
)


@dataclass(frozen=True)
class _Person:
    ref: str
    name: str
    phones: tuple[str, ...]
    language: str = "en"
    vip: bool = False


# The four customers above first; then the rest of the shop's regulars.
_NAMED = (
    _Person("demo-c01", DEMO_VIP_NAME, (DEMO_VIP_PHONE, "+48221234501"), vip=True),
    _Person("demo-c02", DEMO_CUSTOMER_NAME, (DEMO_CUSTOMER_PHONE,)),
    _Person("demo-c03", DEMO_POLISH_NAME, (DEMO_POLISH_PHONE,), language="pl"),
    _Person("demo-c04", DEMO_UK_VIP_NAME, (DEMO_UK_VIP_PHONE,), vip=True),
)
_OTHERS = (
    ("Anna Kowalska", "pl"),
    ("Emily Watson", "en"),
    ("Tomasz Lewandowski", "pl"),
    ("Magdalena Wójcik", "pl"),
    ("Daniel Hughes", "en"),
    ("Agnieszka Kamińska", "pl"),
    ("Krzysztof Zieliński", "pl"),
    ("Sophie Turner", "en"),
    ("Michał Szymański", "pl"),
    ("Joanna Woźniak", "pl"),
    ("Paweł Dąbrowski", "pl"),
    ("Hannah Clarke", "en"),
    ("Marcin Kozłowski", "pl"),
    ("Ewa Jankowska", "pl"),
    ("Robert Mazur", "pl"),
    ("Charlotte Evans", "en"),
    ("Łukasz Krawczyk", "pl"),
    ("Aleksandra Piotrowska", "pl"),
    ("George Mitchell", "en"),
    ("Grzegorz Grabowski", "pl"),
    ("Monika Pawłowska", "pl"),
    ("Jakub Michalski", "pl"),
    ("Lucy Robinson", "en"),
    ("Zofia Król", "pl"),
    ("Bartosz Wieczorek", "pl"),
    ("Natalia Jabłońska", "pl"),
)
DEMO_CUSTOMERS: tuple[_Person, ...] = _NAMED + tuple(
    _Person(f"demo-c{n:02d}", name, (f"+48601000{n:03d}",), language=language)
    for n, (name, language) in enumerate(_OTHERS, start=len(_NAMED) + 1)
)


async def seed_crm_demo(store: Store, *, now: datetime | None = None) -> PostgresCrm:
    """Create or refresh the demo shop in ``store``; returns a `PostgresCrm` on it."""
    now = now or datetime.now(UTC)
    crm = PostgresCrm(store)
    ids: dict[str, int] = {}
    for person in DEMO_CUSTOMERS:
        ids[person.ref] = await crm.upsert_customer(
            person.ref,
            person.name,
            person.phones,
            email=_email(person.name),
            language=person.language,
            vip=person.vip,
            flags={"segment": "vip"} if person.vip else {},
        )
    for order in _orders(ids, now):
        await crm.upsert_order(order)
    await _seed_tickets(crm, ids, now)
    await _seed_history(store, crm, ids, now)
    return crm


def _email(name: str) -> str:
    plain = name.lower().translate(str.maketrans("ąćęłńóśźż", "acelnoszz"))
    return plain.replace(" ", ".") + "@example.com"


def _orders(ids: dict[str, int], now: datetime) -> list[Order]:
    c = ids
    orders = [
        _order(DEMO_ORDER_DELIVERED, c["demo-c02"], "delivered", now, 30, 2),
        _order(DEMO_ORDER_SHIPPED, c["demo-c02"], "shipped", now, 3, 0),
        _order(DEMO_ORDER_PROCESSING, c["demo-c01"], "processing", now, 1, 4),
        _order("100122", c["demo-c01"], "delivered", now, 41, 4),
        _order("100209", c["demo-c01"], "delivered", now, 12, 10),
        _order(DEMO_ORDER_RETURNED, c["demo-c03"], "returned", now, 20, 7),
        _order(DEMO_ORDER_CANCELLED, c["demo-c03"], "cancelled", now, 6, 3),
        _order("100271", c["demo-c04"], "shipped", now, 2, 8),
    ]
    number = 100400
    for index, person in enumerate(DEMO_CUSTOMERS[len(_NAMED) :]):
        for k in range(1 + index % 3):
            status = _STATUS_CYCLE[(index + k) % len(_STATUS_CYCLE)]
            days_ago = 2 + (index * 7 + k * 11) % 50 if status != "processing" else 1
            number += 1
            orders.append(_order(str(number), c[person.ref], status, now, days_ago, index + k))
    return orders


def _order(
    number: str, customer_id: int, status: OrderStatus, now: datetime, days_ago: int, pick: int
) -> Order:
    product, price = _PRODUCTS[pick % len(_PRODUCTS)]
    placed = (now - timedelta(days=days_ago)).replace(microsecond=0)
    carrier = _CARRIERS[pick % len(_CARRIERS)]
    shipped = placed + timedelta(days=1) if status != "processing" else None
    delivered = placed + timedelta(days=3) if status in ("delivered", "returned") else None
    eta: date | None = None
    if status == "shipped":
        eta = (now + timedelta(days=1 + pick % 3)).date()
    elif status == "processing":
        eta = (now + timedelta(days=4)).date()
    has_parcel = status in ("shipped", "delivered", "returned")
    return Order(
        number=number,
        customer_id=customer_id,
        status=status,
        placed_at=placed,
        total=price,
        currency="PLN",
        carrier=carrier if has_parcel else None,
        tracking=_tracking(carrier, number) if has_parcel else None,
        eta=eta,
        shipped_at=shipped if has_parcel else None,
        delivered_at=delivered,
        summary=product,
    )


def _tracking(carrier: str, number: str) -> str:
    # each carrier's own shape: InPost 24 digits, DPD 13 digits + letter, DHL 10 digits
    if carrier == "InPost":
        return f"6{number}{number}{number}00000"[:24]
    if carrier == "DPD":
        return f"1000{number}000U"
    if carrier == "DHL":
        return f"00{number}01"
    return f"PX{number}0048"


async def _seed_tickets(crm: PostgresCrm, ids: dict[str, int], now: datetime) -> None:
    tickets = (
        (
            "demo-t1",
            "demo-c01",
            "Espresso machine arrived with a cracked drip tray",
            "open",
            "high",
            "100209",
            5,
        ),
        (
            "demo-t2",
            "demo-c02",
            "Invoice needs the company VAT number",
            "pending",
            "normal",
            DEMO_ORDER_DELIVERED,
            9,
        ),
        (
            "demo-t3",
            "demo-c03",
            "Zwrot pieniędzy za zamówienie 100187",
            "open",
            "normal",
            DEMO_ORDER_RETURNED,
            4,
        ),
        ("demo-t4", "demo-c02", "Change of delivery address", "closed", "low", None, 40),
        ("demo-t5", "demo-c04", "Gift wrapping for order 100271", "open", "normal", "100271", 2),
        ("demo-t6", "demo-c05", "Brak instrukcji w paczce", "closed", "low", None, 18),
        ("demo-t7", "demo-c09", "Damaged parcel reported by courier", "open", "high", None, 1),
    )
    for ref, owner, subject, status, priority, order_number, days_ago in tickets:
        created = (now - timedelta(days=days_ago)).replace(microsecond=0)
        await crm.upsert_ticket(
            ref,
            ids[owner],
            subject,
            status=status,
            priority=priority,
            order_number=order_number,
            created_at=created,
            updated_at=created + timedelta(hours=days_ago),
        )


_DEMO_CALLS = (
    # customer, days ago, queue, agent, disposition, resolved, path, what the caller did, notes
    (
        "demo-c02",
        12,
        "orders",
        "agent1",
        "order_status",
        True,
        ("welcome", "menu", "order_status", "agent"),
        ("speech:order status", "dtmf:100118"),
        "Asked when 100118 arrives; confirmed delivery window with DPD.",
    ),
    (
        "demo-c01",
        5,
        "orders",
        "agent2",
        "complaint",
        False,
        ("welcome", "vip", "agent"),
        ("dtmf:0",),
        "Cracked drip tray on the espresso machine; ticket opened, replacement part ordered.",
    ),
    (
        "demo-c01",
        30,
        "billing",
        "agent1",
        "invoice",
        True,
        ("welcome", "menu", "billing"),
        ("speech:invoice",),
        "Resent invoice for 100122.",
    ),
    (
        "demo-c03",
        4,
        "returns",
        "agent2",
        "refund",
        False,
        ("welcome", "language", "menu", "returns"),
        ("dtmf:2", "speech:zwrot"),
        "Zwrot przyjęty w magazynie; pieniądze w ciągu 5 dni roboczych.",
    ),
    (
        "demo-c04",
        2,
        "orders",
        "agent1",
        "gift_wrap",
        True,
        ("welcome", "vip", "agent"),
        (),
        "Added gift wrapping to 100271 before dispatch.",
    ),
    (
        "demo-c09",
        1,
        "returns",
        "agent2",
        "damaged",
        False,
        ("welcome", "menu", "returns"),
        ("speech:damaged parcel",),
        "Photos requested by e-mail.",
    ),
    (
        "demo-c06",
        8,
        "billing",
        "agent1",
        "payment",
        True,
        ("welcome", "menu", "billing"),
        ("dtmf:3",),
        "Card payment retried successfully.",
    ),
)


async def _seed_history(store: Store, crm: PostgresCrm, ids: dict[str, int], now: datetime) -> None:
    async with store.pool.acquire() as conn, conn.transaction():
        for index, call in enumerate(_DEMO_CALLS):
            owner, days_ago, queue, agent, disposition, resolved, path, said, notes = call
            started = (now - timedelta(days=days_ago, hours=index)).replace(microsecond=0)
            person = next(p for p in DEMO_CUSTOMERS if p.ref == owner)
            await crm.deliver(
                Interaction(
                    key=f"demo-call-{index + 1}",
                    call_id=f"demo-call-{index + 1}@hotline.demo",
                    started_at=started,
                    ended_at=started + timedelta(minutes=4, seconds=17 * index),
                    phone=person.phones[0],
                    customer_id=ids[owner],
                    queue=queue,
                    agent=agent,
                    disposition=disposition,
                    notes=notes,
                    resolved=resolved,
                    ivr_path=path,
                    transcript=tuple(_said(entry) for entry in said),
                    wait_seconds=float(10 + 7 * index),
                    talk_seconds=float(180 + 23 * index),
                ),
                conn,
            )


def _said(entry: str) -> dict[str, str]:
    kind, _, text = entry.partition(":")
    return {"source": kind, "text": text}
