"""Contract C: what the IVR's ``queue`` node hands the ACD, and what it gets back.

    outcome = await services.routing.enqueue(call, QueueRequest("orders", context={...}))

``enqueue`` holds the caller (music on hold, position and estimated-wait announcements),
offers the call to agents and returns when the caller left the queue.  The call stays up
while an agent talks to the caller; ``enqueue`` returns after the agent side ends, so the
IVR may go on (a survey, say) or hang up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from media.call import Call

OutcomeKind = Literal["answered", "abandoned", "voicemail", "callback", "timeout", "transferred"]


@dataclass(frozen=True)
class QueueRequest:
    """Put a caller in ``queue``.

    ``skills`` adds to (or raises) the queue's own required skills, ``{skill: min level 1-5}``;
    a higher ``priority`` is served first; ``language`` must be one of the agent's languages;
    ``context`` (IVR path, variables, what the caller said) reaches the agent's screen-pop.
    """

    queue: str
    skills: dict[str, int] = field(default_factory=dict)
    priority: int = 0
    language: str = "en"
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class QueueOutcome:
    """How the caller left the queue.

    ``kind``: ``answered`` (an agent talked to the caller; ``agent`` says who), ``abandoned``
    (the caller hung up while waiting), ``voicemail`` (maximum wait, a message was taken),
    ``callback`` (maximum wait, the caller keeps their place and will be called back),
    ``timeout`` (maximum wait with no fallback, or the queue does not exist), ``transferred``
    (an agent sent the caller outside the ACD; ``target`` says where).
    """

    kind: OutcomeKind
    queue: str
    wait_seconds: float = 0.0
    agent: str | None = None
    talk_seconds: float = 0.0
    disposition: str | None = None
    target: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class Queueing(Protocol):
    """Implemented by `routing.service.RoutingService`."""

    async def enqueue(self, call: Call, request: QueueRequest) -> QueueOutcome: ...
