"""The ACD: skill-based queues, agent states, strategies, reservations, live figures.

- `routing.contract`: `QueueRequest`, `QueueOutcome`, `Queueing` (Contract C, for the IVR).
- `routing.agents`: the agent-side API the desktop builds on (`AgentSession`, `AgentMedia`).
- `routing.acd`: the sans-IO router (every decision takes ``now``).
- `routing.store`: PostgreSQL state, reservations with ``FOR UPDATE SKIP LOCKED``.
- `routing.service`: `RoutingService`, the asyncio edge over the two.
"""

from __future__ import annotations

from routing.contract import OutcomeKind, Queueing, QueueOutcome, QueueRequest

__all__ = ["OutcomeKind", "QueueOutcome", "QueueRequest", "Queueing"]
