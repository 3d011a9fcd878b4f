"""Every agent's :class:`AgentMedia` in this process, by username.

The desktop WebSocket creates an agent's media at sign-in and negotiates through it;
the ACD bridges calls through :meth:`AgentMediaHub.connect` without knowing about
WebRTC.  A session outlives a page reload: the desktop's reconnect finds the same
object, with its call still connected.
"""

from __future__ import annotations

import asyncio

from media.call import Call
from media.leg import FrameSource

from .session import AgentMedia, AgentMediaError

Handle = tuple[str, Call]


class AgentMediaHub:
    """Agent media sessions by username; the ACD's view of the agents' audio."""

    def __init__(self) -> None:
        self._sessions: dict[str, AgentMedia] = {}

    def session(self, username: str) -> AgentMedia:
        """The agent's media session, created on first use."""
        media = self._sessions.get(username)
        if media is None or media.closed:
            media = self._sessions[username] = AgentMedia(username)
        return media

    def get(self, username: str) -> AgentMedia | None:
        return self._sessions.get(username)

    def ready(self, username: str) -> bool:
        """True when the agent's browser audio is connected (an offer can be answered)."""
        media = self._sessions.get(username)
        return media is not None and media.connection_state == "connected"

    # -- routing.agents.AgentMedia: the ACD bridges and holds through these ----------------

    async def connect(self, username: str, call: Call) -> Handle:
        """Bridge ``call`` to the agent's browser (on answer); returns the bridge's handle."""
        self.session(username).connect(call)
        return (username, call)

    async def disconnect(self, handle: Handle) -> None:
        """Take the bridge apart, unless the agent has another call by now."""
        username, call = handle
        media = self._sessions.get(username)
        if media is not None and media.call is call:
            media.disconnect()

    async def hold(self, handle: Handle, on: bool) -> None:
        """Stop the audio both ways (the ACD swaps the caller's background to music)."""
        username, call = handle
        media = self._sessions.get(username)
        if media is not None and media.call is call:
            media.pause(on)

    # -- direct use (tests, a server without the ACD) ---------------------------------------

    def hold_with(self, username: str, held: bool, music: FrameSource | None = None) -> None:
        """Hold with ``music`` played by the media layer itself."""
        self._require(username).hold(held, music)

    def mute(self, username: str, muted: bool) -> None:
        self._require(username).mute(muted)

    def _require(self, username: str) -> AgentMedia:
        media = self._sessions.get(username)
        if media is None:
            raise AgentMediaError(f"{username} has no media session")
        return media

    async def close(self, username: str) -> None:
        """Sign-out: close the agent's peer connection (a connected call stays up)."""
        media = self._sessions.pop(username, None)
        if media is not None:
            await media.close()

    async def close_all(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        await asyncio.gather(*(media.close() for media in sessions), return_exceptions=True)
