"""The CRM bridge: who is calling, what they bought, and what happened on their calls.

Contract B for the IVR and the agent desktop: the `Crm` connector interface (the built-in
`crm_bridge.postgres.PostgresCrm` first), its models, `normalize_phone`, the per-call
look-up started at INVITE time (`crm_bridge.lookup`), the screen-pop
(`crm_bridge.screenpop`) and the write-back outbox (`crm_bridge.outbox`).
"""

from __future__ import annotations

from crm_bridge.connector import Crm, InteractionSink
from crm_bridge.models import ORDER_STATUSES, Customer, Interaction, Order, OrderStatus, Ticket
from crm_bridge.phone import normalize_phone

# the screen-pop is a JSON-able dict (see crm_bridge.screenpop.build_screen_pop)
ScreenPop = dict

__all__ = [
    "ORDER_STATUSES",
    "Crm",
    "Customer",
    "Interaction",
    "InteractionSink",
    "Order",
    "OrderStatus",
    "ScreenPop",
    "Ticket",
    "normalize_phone",
]
