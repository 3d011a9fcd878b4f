"""The PostgreSQL store (asyncpg only): call records, registrations, SIP and web users.

``store = await open_store(config)`` starts the embedded server when no URL is configured,
opens the pool and applies the SQL migrations; ``await store.close()`` undoes all of it.
"""

from __future__ import annotations

from hotline.store.calls import CallRecord, CallStore
from hotline.store.migrations import MigrationError, apply_migrations
from hotline.store.pool import Store, create_pool, open_store
from hotline.store.registrations import Binding, RegistrationStore
from hotline.store.sip_users import SipUser, SipUserStore, compute_ha1
from hotline.store.users import User, UserStore

__all__ = [
    "Binding",
    "CallRecord",
    "CallStore",
    "MigrationError",
    "RegistrationStore",
    "SipUser",
    "SipUserStore",
    "Store",
    "User",
    "UserStore",
    "apply_migrations",
    "compute_ha1",
    "create_pool",
    "open_store",
]
