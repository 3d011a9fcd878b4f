"""FlowRuntime: the SIP server's call handler (``services.call_handler``).

For each answered call it finds the flow mapped to the dialled number (request-URI user
part, whole URI, then ``*``), pins the version published at that moment (recorded as a
``flow`` event: publishing later never changes this call's path) and runs it. Numbers
without a flow go to ``fallback`` (the digit echo under ``--demo``), or stay silent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ivr.interpreter import Interpreter
from ivr.live import LiveCall
from ivr.ports import NoticeText
from ivr.schema import FlowDoc
from ivr.store import FlowStore, LiveFlow
from media.call import Call

log = logging.getLogger(__name__)

CallHandler = Callable[[Call], Awaitable[None]]


class FlowRuntime:
    def __init__(
        self,
        store: Any,
        speech: Any = None,
        crm: Any = None,
        queueing: Any = None,
        data_dir: Path = Path("var"),
        *,
        fallback: CallHandler | None = None,
    ) -> None:
        self.flows = FlowStore(store)
        self.speech = speech
        self.crm = crm
        self.queueing = queueing
        self.voicemail_dir = Path(data_dir) / "voicemail"
        self.fallback = fallback
        # Versions never change, so a parsed version is good for as long as we run.
        self._parsed: dict[tuple[int, int], FlowDoc] = {}
        self._warming: set[asyncio.Task[None]] = set()

    async def handle(self, call: Call) -> None:
        """Run the flow of ``call.called`` on ``call`` until it ends."""
        live = await self.flows.live_version_for(call.called)
        if live is None:
            if self.fallback is not None:
                await self.fallback(call)
            return
        call.record_event(
            {"type": "flow", "flow_id": live.flow_id, "name": live.name, "version": live.version}
        )
        flow = self._flow(live, call)
        ports = LiveCall(
            call, speech=self.speech, queueing=self.queueing, voicemail_dir=self.voicemail_dir
        )
        interpreter = Interpreter(flow, ports, crm=self.crm, notices=self.notice)
        await interpreter.run()

    async def notice(self, name: str) -> NoticeText | None:
        """The notice ``name`` while a supervisor has it switched on."""
        found = await self.flows.notice(name)
        if found is None or not found.active or not found.text.strip():
            return None
        return NoticeText(found.text, dict(found.translations))

    def _flow(self, live: LiveFlow, call: Call) -> FlowDoc:
        key = (live.flow_id, live.version)
        flow = self._parsed.get(key)
        if flow is None:
            flow = self._parsed[key] = FlowDoc.model_validate(live.doc)
            self._warm(flow, call)
        return flow

    def _warm(self, flow: FlowDoc, call: Call) -> None:
        """Render the flow's fixed prompts in the background, so no caller waits on TTS."""
        task = asyncio.ensure_future(warm_prompts(flow, call.prompts))
        self._warming.add(task)
        task.add_done_callback(self._warming.discard)


async def warm_prompts(flow: FlowDoc, prompts: Any) -> None:
    """Render every placeholder-free prompt text of ``flow`` in each of its languages."""
    for node in flow.nodes:
        for _, prompt in node.prompts():
            texts = {prompt.language or flow.language: prompt.text, **prompt.translations}
            for language, text in texts.items():
                if text.strip() and "{" not in text:
                    try:
                        await prompts.speech(text, language=language, voice=prompt.voice)
                    except Exception:  # warming is an optimisation; the call renders on demand
                        log.debug("warming %r failed", text, exc_info=True)
