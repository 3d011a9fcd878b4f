"""Demo ACD data for ``hotline serve --demo``: three queues and two agents."""

from __future__ import annotations

from hotline.store.pool import Store
from routing.model import QueueConfig
from routing.store import RoutingStore

DEMO_QUEUES = (
    QueueConfig("orders", {"orders": 1}, strategy="longest_idle", ring_timeout=15, wrap_up=20,
                overflow_after=120, overflow_skills={}, max_wait=600, max_wait_action="callback"),
    QueueConfig("returns", {"returns": 1}, strategy="best_skill", ring_timeout=15, wrap_up=20,
                overflow_after=90, overflow_queue="orders", max_wait=600),
    QueueConfig("billing", {"billing": 2}, strategy="round_robin", ring_timeout=15, wrap_up=30,
                max_wait=300, max_wait_action="voicemail"),
)  # fmt: skip

# username, password, skills (levels 1-5), languages
DEMO_AGENTS = (
    ("agent1", "agent1pass", {"orders": 4, "returns": 3, "vip": 2}, ("en", "pl")),
    ("agent2", "agent2pass", {"orders": 2, "returns": 2, "billing": 4, "vip": 1}, ("en",)),
)


async def seed_routing_demo(store: Store) -> None:
    """Create the demo queues and agents that are missing (idempotent, like `seed_demo`)."""
    rows = RoutingStore(store.pool)
    known = {q.name for q in await rows.queues()}
    for queue in DEMO_QUEUES:
        if queue.name not in known:
            await rows.save_queue(queue)
    for username, password, skills, languages in DEMO_AGENTS:
        if await store.users.get(username) is None:
            await store.users.add_user(username, password, "agent", replace=False)
        if await rows.agent(username) is None:
            await rows.save_agent(username, skills, languages)
