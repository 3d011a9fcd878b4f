"""Speech engines behind one streaming interface (`Engine`, `Recognizer`)."""

from .base import Engine, Recognizer

__all__ = ["Engine", "Recognizer"]
