"""What a CRM knows about a caller: customers, orders, tickets and past interactions.

Plain frozen dataclasses, the same whichever connector filled them in; timestamps are
timezone-aware. ``Order.spoken_status`` is the sentence the IVR reads to the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

OrderStatus = Literal["processing", "shipped", "delivered", "returned", "cancelled"]
ORDER_STATUSES: tuple[OrderStatus, ...] = (
    "processing",
    "shipped",
    "delivered",
    "returned",
    "cancelled",
)
TicketStatus = Literal["open", "pending", "closed"]


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer with the phone numbers (E.164) they call from."""

    id: int
    name: str
    phones: list[str]
    vip: bool = False
    language: str = "en"  # "en" or "pl": what the IVR speaks to them
    flags: dict[str, Any] = field(default_factory=dict)  # e.g. {"segment": "b2b"}
    email: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (for the screen-pop and the API)."""
        return {
            "id": self.id,
            "name": self.name,
            "phones": list(self.phones),
            "vip": self.vip,
            "language": self.language,
            "flags": dict(self.flags),
            "email": self.email,
        }


@dataclass(frozen=True, slots=True)
class Order:
    """An order and where it is. Shipped orders carry ``carrier`` and ``tracking``."""

    number: str
    customer_id: int
    status: OrderStatus
    placed_at: datetime
    total: Decimal
    currency: str = "PLN"
    carrier: str | None = None
    tracking: str | None = None
    eta: date | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    summary: str = ""  # what was ordered, one line

    def spoken_status(self, language: str = "en") -> str:
        """One natural sentence about this order for text-to-speech ("en" or "pl")."""
        from crm_bridge.speech import spoken_status

        return spoken_status(self, language)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (dates as ISO 8601, the total as a string)."""
        return {
            "number": self.number,
            "customer_id": self.customer_id,
            "status": self.status,
            "placed_at": self.placed_at.isoformat(),
            "total": str(self.total),
            "currency": self.currency,
            "carrier": self.carrier,
            "tracking": self.tracking,
            "eta": self.eta.isoformat() if self.eta else None,
            "shipped_at": self.shipped_at.isoformat() if self.shipped_at else None,
            "delivered_at": self.delivered_at.isoformat() if self.delivered_at else None,
            "summary": self.summary,
        }


@dataclass(frozen=True, slots=True)
class Ticket:
    """A support case, open until someone closes it."""

    id: int
    customer_id: int
    subject: str
    status: TicketStatus
    created_at: datetime
    updated_at: datetime
    priority: str = "normal"  # "low", "normal", "high"
    order_number: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "id": self.id,
            "customer_id": self.customer_id,
            "subject": self.subject,
            "status": self.status,
            "priority": self.priority,
            "order_number": self.order_number,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Interaction:
    """One contact (a call) as the CRM remembers it, written back at wrap-up.

    ``key`` makes the write-back idempotent: the same key written twice is one
    interaction. It defaults to the Call-ID and the agent, so one call handled by two
    agents (a transfer) is two interactions. ``topic`` is what the contact was about,
    for first-contact resolution; it defaults to the queue.
    """

    call_id: str
    started_at: datetime
    phone: str | None = None  # E.164
    customer_id: int | None = None
    ended_at: datetime | None = None
    queue: str | None = None
    agent: str | None = None
    disposition: str | None = None  # e.g. "order_status", "refund", "no_answer"
    notes: str = ""
    resolved: bool = False
    topic: str | None = None
    ivr_path: tuple[str, ...] = ()  # node ids in the order the caller went through them
    transcript: tuple[dict[str, Any], ...] = ()  # {"t", "source", "text"}: said or keyed
    wait_seconds: float | None = None
    talk_seconds: float | None = None
    channel: str = "voice"
    id: int | None = None  # set once stored
    key: str | None = None

    @property
    def idempotency_key(self) -> str:
        """``key``, or the Call-ID and agent."""
        return self.key or f"{self.call_id}/{self.agent or '-'}"

    @property
    def subject(self) -> str | None:
        """What the contact was about: ``topic``, else the queue."""
        return self.topic or self.queue

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (the outbox payload and the screen-pop's history)."""
        return {
            "id": self.id,
            "key": self.idempotency_key,
            "call_id": self.call_id,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "phone": self.phone,
            "customer_id": self.customer_id,
            "queue": self.queue,
            "agent": self.agent,
            "disposition": self.disposition,
            "notes": self.notes,
            "resolved": self.resolved,
            "topic": self.topic,
            "ivr_path": list(self.ivr_path),
            "transcript": [dict(entry) for entry in self.transcript],
            "wait_seconds": self.wait_seconds,
            "talk_seconds": self.talk_seconds,
            "channel": self.channel,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Interaction:
        """The inverse of `to_json`."""
        return cls(
            call_id=data["call_id"],
            started_at=datetime.fromisoformat(data["started_at"]),
            ended_at=_optional_time(data.get("ended_at")),
            phone=data.get("phone"),
            customer_id=data.get("customer_id"),
            queue=data.get("queue"),
            agent=data.get("agent"),
            disposition=data.get("disposition"),
            notes=data.get("notes") or "",
            resolved=bool(data.get("resolved")),
            topic=data.get("topic"),
            ivr_path=tuple(data.get("ivr_path") or ()),
            transcript=tuple(data.get("transcript") or ()),
            wait_seconds=data.get("wait_seconds"),
            talk_seconds=data.get("talk_seconds"),
            channel=data.get("channel") or "voice",
            id=data.get("id"),
            key=data.get("key"),
        )


def _optional_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)
