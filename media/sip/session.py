"""One call as the user-agent layer sees it: an INVITE session (RFC 3261 §13-§15).

:class:`CallSession` is state only; :class:`media.sip.useragent.UserAgent`
moves it through :data:`TRANSITIONS`.  Times are the caller's ``now`` values
(the monotonic clock of whoever drives the agent).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .dialog import Dialog
from .errors import LocalProtocolError
from .message import Request, Response

if TYPE_CHECKING:
    from .transaction import ClientTransaction, ServerTransaction, Target


class SessionState(enum.Enum):
    INCOMING = "incoming"  # INVITE received, nothing but 100 sent
    EARLY = "early"  # 18x with a To tag sent (early dialog)
    ANSWERED = "answered"  # 2xx sent, retransmitting until the ACK (§13.3.1.4)
    CONFIRMED = "confirmed"  # ACK received: the call is up
    ENDING = "ending"  # our BYE is out, waiting for its response
    ENDED = "ended"


class EndReason(enum.StrEnum):
    REMOTE_BYE = "remote_bye"  # the caller hung up
    LOCAL_BYE = "local_bye"  # we hung up
    CANCELLED = "cancelled"  # the caller gave up before the answer (§9.2)
    REJECTED = "rejected"  # we answered with 3xx-6xx
    ACK_TIMEOUT = "ack_timeout"  # no ACK for our 2xx within 64*T1 (§13.3.1.4)
    BYE_TIMEOUT = "bye_timeout"  # our BYE was never answered
    SHUTDOWN = "shutdown"  # the server stopped


#: Which commands and inputs each state accepts (see the UserAgent methods).
TRANSITIONS: dict[SessionState, dict[str, SessionState]] = {
    SessionState.INCOMING: {
        "ring": SessionState.EARLY,
        "answer": SessionState.ANSWERED,
        "reject": SessionState.ENDED,
        "cancel": SessionState.ENDED,
    },
    SessionState.EARLY: {
        "ring": SessionState.EARLY,
        "answer": SessionState.ANSWERED,
        "reject": SessionState.ENDED,
        "cancel": SessionState.ENDED,
        "bye_received": SessionState.ENDED,  # §15: a caller may BYE an early dialog
    },
    SessionState.ANSWERED: {
        "ack": SessionState.CONFIRMED,
        "bye_received": SessionState.ENDED,  # BYE may overtake a lost ACK (§15)
        "ack_timeout": SessionState.ENDING,
        "hangup": SessionState.ENDING,
    },
    SessionState.CONFIRMED: {
        "bye_received": SessionState.ENDED,
        "ack_timeout": SessionState.ENDING,  # a re-INVITE's 2xx never ACKed (§13.3.1.4)
        "hangup": SessionState.ENDING,
    },
    # Ending: our BYE is out, or (hangup before the ACK) waits for the ACK or its
    # timeout, since the callee must not BYE before either (§15).
    SessionState.ENDING: {
        "bye_done": SessionState.ENDED,
        "bye_received": SessionState.ENDED,
    },
    SessionState.ENDED: {},
}


@dataclass(eq=False)
class CallSession:
    """The state of one incoming call; the application keeps its own data in ``app``."""

    invite: Request
    transaction: ServerTransaction
    source: Target
    dialog: Dialog
    started_at: float
    state: SessionState = SessionState.INCOMING
    answered_at: float | None = None
    ended_at: float | None = None
    end_reason: EndReason | None = None
    final_response: Response | None = None
    #: 2xx retransmission (§13.3.1.4): the response, next send time and interval
    retransmit: tuple[Response, float, float] | None = None
    #: where that 2xx went (its transaction's response target, §18.2.2)
    retransmit_to: Target | None = None
    ack_deadline: float | None = None
    #: an INVITE transaction in progress inside the dialog (glare, §14.1/§14.2)
    reinvite_in: ServerTransaction | None = None
    reinvite_out: ClientTransaction | None = None
    reinvite_retry: tuple[float, bytes] | None = None
    bye: ClientTransaction | None = None
    app: dict[str, Any] = field(default_factory=dict)

    @property
    def call_id(self) -> str:
        return self.invite.call_id

    @property
    def is_up(self) -> bool:
        return self.state in (SessionState.ANSWERED, SessionState.CONFIRMED)

    def move(self, action: str) -> None:
        """Apply ``action`` per :data:`TRANSITIONS`, or raise if the state forbids it."""
        target = TRANSITIONS[self.state].get(action)
        if target is None:
            raise LocalProtocolError(f"cannot {action} a call in state {self.state.value}")
        self.state = target

    def can(self, action: str) -> bool:
        return action in TRANSITIONS[self.state]
