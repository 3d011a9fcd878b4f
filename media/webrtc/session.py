"""One agent's audio path: a browser peer connection bridged to the caller's RTP leg.

An :class:`AgentMedia` lives as long as the agent's desktop session, not as long as a
peer connection: the page negotiates at sign-in (so answering is instant) and again
after a reload, and every new peer connection picks up the same queues, so a call in
progress carries on with its audio.  Connecting a call only re-points frame queues:

* caller -> agent: the caller's leg hands each decoded 8 kHz frame to ``to_agent``
  (a leg listener, on the engine's tick); the browser track takes them out on its
  own 20 ms pacing and upsamples to 48 kHz (:mod:`.tracks`).
* agent -> caller: a reader task takes the browser's decoded frames (aiortc decodes
  Opus in its own thread), downsamples them to 20 ms 8 kHz frames into
  ``to_caller``, which is the call's background source.

Hold swaps the call's background for music and stops the caller's voice reaching the
agent; mute passes silence to the caller.  Nothing here blocks the loop: aiortc
encodes in an executor, and the per-frame work is one small resampling step.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

import av
import numpy as np
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from media.bridge import LiveSource
from media.call import Call
from media.leg import FrameSource

from .frames import MAX_QUEUED, Downsampler
from .tracks import CallerAudioTrack

log = logging.getLogger(__name__)


class AgentMediaError(RuntimeError):
    """The agent's media was misused: no call connected, a bad offer, closed session."""


@dataclass
class MediaFigures:
    """Counters for the desktop and the tests: is audio flowing each way?"""

    frames_from_agent: int = 0  # 8 kHz frames decoded from the browser
    frames_to_caller: int = 0  # of those, while a call was connected
    negotiations: int = 0


class AgentMedia:
    """The media half of one agent desktop session (see the module docstring)."""

    def __init__(self, username: str) -> None:
        self.username = username
        self.to_agent = LiveSource(MAX_QUEUED)
        self.to_caller = LiveSource(MAX_QUEUED)
        self.figures = MediaFigures()
        self.call: Call | None = None
        self.held = False
        self.muted = False
        self._pc: RTCPeerConnection | None = None
        self._track: CallerAudioTrack | None = None
        self._reader: asyncio.Task[None] | None = None
        self._hold_source: FrameSource | None = None
        #: every frame the agent says, 8 kHz (tests and the recorder tap here)
        self.taps: list[Callable[[np.ndarray], None]] = []
        self.closed = False

    # -- signalling ----------------------------------------------------------------------

    async def accept_offer(self, sdp: str) -> str:
        """Answer the browser's SDP offer with a new peer connection; returns the answer.

        An earlier peer connection (the page before a reload) is closed; a connected
        call keeps going on the new one.
        """
        if self.closed:
            raise AgentMediaError(f"the media session of {self.username} is closed")
        await self._close_peer()
        pc = self._pc = RTCPeerConnection()
        track = self._track = CallerAudioTrack(self.to_agent)
        track.live = self.call is not None and not self.held
        pc.on("track", lambda remote: self._on_track(pc, remote))
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except (ValueError, AttributeError) as exc:
            await self._close_peer()
            raise AgentMediaError(f"cannot answer this offer: {exc}") from exc
        self.figures.negotiations += 1
        return str(pc.localDescription.sdp)

    def _on_track(self, pc: RTCPeerConnection, remote: MediaStreamTrack) -> None:
        if remote.kind != "audio" or pc is not self._pc or self._track is None:
            return
        pc.addTrack(self._track)
        if self._reader is not None:
            self._reader.cancel()
        self._reader = asyncio.get_running_loop().create_task(
            self._read(remote), name=f"webrtc-read-{self.username}"
        )

    @property
    def connection_state(self) -> str:
        """The peer connection's state ("new", "connecting", "connected", ...; "none")."""
        return "none" if self._pc is None else str(self._pc.connectionState)

    async def _read(self, remote: MediaStreamTrack) -> None:
        downsampler = Downsampler()
        figures = self.figures
        while True:
            try:
                frame = await remote.recv()
            except MediaStreamError:
                return
            if not isinstance(frame, av.AudioFrame):
                continue
            samples = frame.to_ndarray().astype(np.int16, copy=False)
            channels = len(frame.layout.channels)
            for pcm in downsampler.convert(samples.reshape(-1), frame.sample_rate, channels):
                figures.frames_from_agent += 1
                for tap in self.taps:
                    tap(pcm)
                if self.call is not None:
                    self.to_caller.push(pcm)
                    figures.frames_to_caller += 1

    # -- the call --------------------------------------------------------------------------

    def connect(self, call: Call) -> None:
        """Bridge ``call``'s caller with this agent (answer or reconnect)."""
        if self.call is call:
            return
        if self.call is not None:
            self.disconnect()
        self.call = call
        self.held = False
        self.to_agent.clear()
        self.to_caller.clear()
        self.to_caller.mute(self.muted)
        call.stop_playback()
        call.leg.attach_jitter_buffer()
        call.leg.listeners.append(self.to_agent.push)
        call.background = self.to_caller
        if self._track is not None:
            self._track.live = True

    def disconnect(self) -> None:
        """Take the caller off this agent (hang-up, transfer); both sides back to silence."""
        call, self.call = self.call, None
        if call is None:
            return
        if self.to_agent.push in call.leg.listeners:
            call.leg.listeners.remove(self.to_agent.push)
        if call.background is self.to_caller or call.background is self._hold_source:
            call.background = None
        self.held = False
        self._hold_source = None
        if self._track is not None:
            self._track.live = False
        self.to_agent.clear()
        self.to_caller.clear()

    def hold(self, held: bool, music: FrameSource | None = None) -> None:
        """Put the caller on hold (hearing ``music``, else silence) or take them off it."""
        call = self._require_call()
        if held == self.held:
            return
        self.held = held
        self.to_agent.mute(held)
        if held:
            self._hold_source = music
            call.background = music
        else:
            self._hold_source = None
            call.background = self.to_caller

    def pause(self, paused: bool) -> None:
        """Hold as the ACD does it: no audio either way; the caller's background is theirs.

        On resume the caller hears the agent again even if the hold music is still the
        background (the order of the ACD's swap and this call does not matter).
        """
        call = self._require_call()
        self.held = paused
        self.to_agent.mute(paused)
        self.to_caller.mute(paused or self.muted)
        if self._track is not None:
            self._track.live = not paused
        if not paused:
            call.background = self.to_caller

    def mute(self, muted: bool) -> None:
        """Stop (or resume) passing the agent's voice to the caller."""
        self.muted = muted
        self.to_caller.mute(muted or self.held)

    def send_dtmf(self, digits: str) -> None:
        """Keypad presses on the softphone, as RFC 4733 digits to the caller."""
        self._require_call().send_dtmf(digits)

    def _require_call(self) -> Call:
        if self.call is None:
            raise AgentMediaError(f"{self.username} has no call connected")
        return self.call

    # -- shutdown ----------------------------------------------------------------------------

    async def _close_peer(self) -> None:
        pc, self._pc = self._pc, None
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        if self._track is not None:
            self._track.stop()
            self._track = None
        if pc is not None:
            await pc.close()

    async def close(self) -> None:
        """End the session: disconnect any call (it stays up) and close the peer connection."""
        self.closed = True
        self.disconnect()
        await self._close_peer()
