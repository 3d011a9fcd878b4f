"""The transaction layer's public names (RFC 3261 §17); the code is in :mod:`.transactions`."""

from __future__ import annotations

from .transactions import (
    RELIABLE_TRANSPORTS,
    ClientState,
    ClientTransaction,
    ServerState,
    ServerTransaction,
    Target,
    TimerValues,
    Transaction,
    TransactionLayer,
    build_ack,
    build_cancel,
    response_target,
    stamp_via,
)

__all__ = [
    "RELIABLE_TRANSPORTS",
    "ClientState",
    "ClientTransaction",
    "ServerState",
    "ServerTransaction",
    "Target",
    "TimerValues",
    "Transaction",
    "TransactionLayer",
    "build_ack",
    "build_cancel",
    "response_target",
    "stamp_via",
]
