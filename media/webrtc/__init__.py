"""WebRTC media for the agent desktop: aiortc peer connections bridged to callers' RTP legs."""

from __future__ import annotations

from .hub import AgentMediaHub
from .ice import use_host_addresses
from .session import AgentMedia, AgentMediaError, MediaFigures

__all__ = ["AgentMedia", "AgentMediaError", "AgentMediaHub", "MediaFigures", "use_host_addresses"]
