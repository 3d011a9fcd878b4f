"""The SIP transaction layer (RFC 3261 §17), sans-IO.

``fsm`` holds the shared vocabulary (stimuli, actions, the transaction base),
``client`` and ``server`` the four state tables of figures 5-8, ``timers``
the timer values and the lazy heap, ``target`` addresses and response
routing (§18.2), and ``layer`` the :class:`TransactionLayer` facade.
"""

from __future__ import annotations

from .client import ClientState, ClientTransaction, build_ack, build_cancel
from .fsm import Action, Stimulus, Transaction
from .layer import TransactionLayer
from .server import ServerState, ServerTransaction
from .target import RELIABLE_TRANSPORTS, Target, response_target, stamp_via
from .timers import TimerValues

__all__ = [
    "RELIABLE_TRANSPORTS",
    "Action",
    "ClientState",
    "ClientTransaction",
    "ServerState",
    "ServerTransaction",
    "Stimulus",
    "Target",
    "TimerValues",
    "Transaction",
    "TransactionLayer",
    "build_ack",
    "build_cancel",
    "response_target",
    "stamp_via",
]
