"""The PostgreSQL store (asyncpg only): calls, registrations, SIP and web users, API tokens.

``store = await open_store(config)`` starts the embedded server when no URL is configured,
opens the pool and applies the SQL migrations; ``await store.close()`` undoes all of it.
"""

from __future__ import annotations

from hotline.store.calls import CallRecord, CallStore
from hotline.store.migrations import MigrationError, apply_migrations
from hotline.store.pool import Store, create_pool, open_store
from hotline.store.registrations import Binding, RegistrationStore
from hotline.store.sip_users import SipUser, SipUserStore, compute_ha1
from hotline.store.tokens import IssuedToken, TokenInfo, TokenStore
from hotline.store.users import User, UserStore

__all__ = [
    "Binding",
    "CallRecord",
    "CallStore",
    "IssuedToken",
    "MigrationError",
    "RegistrationStore",
    "SipUser",
    "SipUserStore",
    "Store",
    "TokenInfo",
    "TokenStore",
    "User",
    "UserStore",
    "apply_migrations",
    "compute_ha1",
    "create_pool",
    "open_store",
]
