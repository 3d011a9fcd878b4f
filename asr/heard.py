"""What one turn of listening produced: the value the IVR acts on plus what the engine heard."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Outcome = Literal["match", "nomatch", "noinput", "hangup"]


@dataclass(frozen=True, slots=True)
class Hypothesis:
    """An engine's final (or partial) guess for one utterance."""

    text: str
    confidence: float = 0.0
    alternatives: tuple[str, ...] = ()


@dataclass(frozen=True)
class Heard:
    """The result of `SpeechService.listen` (Contract A)."""

    outcome: Outcome
    value: str | None = None  # digits "12345"; "yes"/"no"; the intent key; free text
    text: str = ""  # what the engine heard
    confidence: float = 0.0
    alternatives: tuple[str, ...] = ()
    engine: str = ""  # "pocketsphinx" | "vosk" | "none"
    grammar: str = ""
    latency_ms: float = 0.0  # end of speech -> final result

    def event(self) -> dict[str, Any]:
        """The ``speech`` event written to the call record."""
        return {
            "type": "speech",
            "outcome": self.outcome,
            "text": self.text,
            "value": self.value,
            "confidence": round(self.confidence, 3),
            "grammar": self.grammar,
            "engine": self.engine,
            "latency_ms": round(self.latency_ms, 1),
        }
