"""`SpeechService`: listen on a call (or a file) with a grammar, get a `Heard` (Contract A)."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .engines.base import Engine
from .engines.sphinx import SphinxEngine
from .engines.vosk import VoskEngine, korean_model
from .grammar import Grammar
from .heard import Heard
from .pipeline import Turn, run_turn
from .stream import DecodeStream
from .vad import Endpointing

if TYPE_CHECKING:
    from media.call import Call

log = logging.getLogger(__name__)

#: frames a stream may fall behind before its turn degrades to "no match" (1 s)
MAX_BACKLOG_FRAMES = 50


class SpeechService:
    """Engines per language, a worker pool, and `listen` for calls."""

    def __init__(self, *, vosk_model: Path | None = None, workers: int | None = None) -> None:
        self.vosk_model = vosk_model
        self.workers = workers or max(2, os.cpu_count() or 1)
        self._engines: dict[str, Engine] = {}
        self._by_name: dict[tuple[str, str], Engine] = {}
        self._executor: ThreadPoolExecutor | None = None

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Create the workers, pick an engine per language and load the models."""
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="hotline-asr")
        sphinx = SphinxEngine()
        self._by_name[("en", sphinx.name)] = sphinx
        self._engines["en"] = sphinx
        if self.vosk_model is not None:
            english = VoskEngine(self.vosk_model, ("en",))
            self._by_name[("en", english.name)] = self._engines["en"] = english
        ko = korean_model()
        if ko is not None:
            self._by_name[("ko", "vosk")] = self._engines["ko"] = VoskEngine(ko, ("ko",))
        loop = asyncio.get_running_loop()
        await asyncio.gather(
            *(loop.run_in_executor(self._executor, e.warm_up) for e in self._engines.values())
        )
        log.info("speech engines: %s", self.engines())

    async def stop(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def engines(self) -> dict[str, str]:
        """Language -> engine name."""
        return {language: engine.name for language, engine in self._engines.items()}

    def engine(self, language: str, name: str | None = None) -> Engine | None:
        if name is None:
            return self._engines.get(language)
        return self._by_name.get((language, name))

    # -- listening ---------------------------------------------------------------------

    async def listen(
        self,
        call: Call,
        grammar: Grammar,
        *,
        language: str = "en",
        no_input_timeout: float = 5.0,
        end_silence: float = 0.8,
        max_utterance: float = 15.0,
        barge_in: bool = True,
    ) -> Heard:
        """One turn on a live call; the result also goes on the call record."""
        config = Endpointing(no_input_timeout, end_silence, max_utterance)
        heard = await self.recognize(
            call.audio_frames(),
            grammar,
            language=language,
            endpointing=config,
            playing=lambda: call.playing,
            barge_in=barge_in,
            on_onset=call.stop_playback if barge_in else None,
            end_is_hangup=True,
        )
        call.record_event(heard.event())
        return heard

    async def recognize(
        self,
        frames: AsyncIterator[np.ndarray],
        grammar: Grammar,
        *,
        language: str = "en",
        engine: str | None = None,
        endpointing: Endpointing | None = None,
        playing: object = None,
        barge_in: bool = True,
        on_onset: object = None,
        end_is_hangup: bool = False,
        max_backlog: int | None = MAX_BACKLOG_FRAMES,
    ) -> Heard:
        """`listen` over any frame source (files, benches): same pipeline, same result."""
        chosen = self.engine(language, engine)
        if chosen is None or self._executor is None:
            return Heard("nomatch", engine="none", grammar=grammar.name)
        executor = self._executor

        def open_stream() -> DecodeStream:
            return DecodeStream(chosen, grammar, language, executor, max_backlog=max_backlog)

        turn = await run_turn(
            frames,
            open_stream,
            endpointing or Endpointing(),
            playing=playing if callable(playing) else (lambda: False),
            barge_in=barge_in,
            on_onset=on_onset if callable(on_onset) else None,
            end_is_hangup=end_is_hangup,
        )
        return self._heard(turn, grammar, language, chosen.name)

    @staticmethod
    def _heard(turn: Turn, grammar: Grammar, language: str, engine: str) -> Heard:
        hyp = turn.hypothesis
        if turn.outcome != "match" or hyp is None:
            return Heard(turn.outcome, engine=engine, grammar=grammar.name)
        value = grammar.interpret(hyp.text, language)
        return Heard(
            "match" if value is not None else "nomatch",
            value=value,
            text=hyp.text,
            confidence=hyp.confidence,
            alternatives=hyp.alternatives,
            engine=engine,
            grammar=grammar.name,
            latency_ms=turn.latency_ms,
        )
