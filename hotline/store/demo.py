"""Demo data for ``hotline serve --demo``: a supervisor login and two agents' desk phones."""

from __future__ import annotations

from hotline.store.pool import Store

DEMO_REALM = "hotline"
DEMO_WEB_USERS = (("supervisor", "supervisor", "supervisor"),)  # username, password, role
DEMO_SIP_USERS = (  # username, password, display name
    ("1001", "1001pass", "Agent 1001"),
    ("1002", "1002pass", "Agent 1002"),
)


async def seed_demo(store: Store) -> None:
    """Create the demo accounts that are missing; existing ones are left as they are.

    Idempotent and safe when several processes seed at once (insert-if-absent), and an
    operator who changed a demo password keeps the change across restarts.
    """
    for username, password, role in DEMO_WEB_USERS:
        if await store.users.get(username) is None:
            await store.users.add_user(username, password, role, replace=False)
    for username, password, display_name in DEMO_SIP_USERS:
        await store.sip_users.add_user(username, DEMO_REALM, password, display_name, replace=False)
