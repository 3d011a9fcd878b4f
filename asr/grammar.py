"""Grammars: what the caller may say at one prompt, and how the words map to a value.

A grammar is engine-neutral data; each engine compiles it (JSGF for pocketsphinx,
phrase lists for vosk) and `interpret` turns the engine's words into the value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .words import digit_words, yes_no

_KINDS = ("digits", "yesno", "phrases", "free")


def normalize(text: str) -> str:
    """Lower case, punctuation dropped, single spaces: the form grammars compare."""
    return " ".join(re.sub(r"[^\w\[\]' ]+", " ", text.lower()).split())


@dataclass(frozen=True)
class Grammar:
    """One of: digit strings, yes/no, a phrase list mapped to intents, free speech."""

    name: str
    min_len: int = 1
    max_len: int = 16
    intents: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def __post_init__(self) -> None:
        if self.name not in _KINDS:
            raise ValueError(f"unknown grammar {self.name!r}; expected one of {_KINDS}")
        if not 1 <= self.min_len <= self.max_len:
            raise ValueError(f"need 1 <= min_len <= max_len, got {self.min_len}..{self.max_len}")
        if self.name == "phrases" and not self.intents:
            raise ValueError("a phrase grammar needs at least one phrase")

    @classmethod
    def digits(cls, min_len: int = 1, max_len: int = 16) -> Grammar:
        return cls("digits", min_len=min_len, max_len=max_len)

    @classmethod
    def yesno(cls) -> Grammar:
        return cls("yesno")

    @classmethod
    def free(cls) -> Grammar:
        return cls("free")

    @classmethod
    def phrases(cls, intents: dict[str, list[str]]) -> Grammar:
        """``{"intent": ["phrase", "synonym", ...]}``; the value heard is the intent key."""
        pairs = tuple(
            (key, tuple(normalize(p) for p in phrases if normalize(p)))
            for key, phrases in intents.items()
        )
        return cls("phrases", intents=pairs)

    @classmethod
    def parse(cls, text: str) -> Grammar:
        """CLI form: ``digits``, ``yesno``, ``free`` or ``"phrase one|phrase two"``."""
        if text in ("digits", "yesno", "free"):
            return getattr(cls, text)()
        phrases = [p.strip() for p in text.split("|") if p.strip()]
        if not phrases:
            raise ValueError(f"empty grammar {text!r}")
        return cls.phrases({p: [p] for p in phrases})

    def key(self) -> str:
        """A stable identifier of the compiled form (engines cache compiled grammars by it)."""
        if self.name == "phrases":
            return "phrases:" + "|".join(p for _, ps in self.intents for p in ps)
        return self.name

    def phrase_list(self, language: str) -> list[str]:
        """Every complete word sequence a restricted grammar accepts (one entry per item)."""
        if self.name == "digits":
            return sorted(digit_words(language))
        if self.name == "yesno":
            return [p for phrases in yes_no(language).values() for p in phrases]
        return [p for _, phrases in self.intents for p in phrases]

    def interpret(self, text: str, language: str = "en") -> str | None:
        """The value of ``text`` under this grammar, or None when it is no match."""
        words = normalize(text)
        if not words:
            return None
        if self.name == "free":
            return words
        if self.name == "digits":
            return self._digits(words.split(), language)
        table = yes_no(language).items() if self.name == "yesno" else self.intents
        for value, phrases in table:
            if words in phrases:
                return value
        return self._contained(words, table)

    def _digits(self, words: list[str], language: str) -> str | None:
        table = digit_words(language)
        if any(w not in table for w in words):
            return None
        value = "".join(table[w] for w in words)
        return value if self.min_len <= len(value) <= self.max_len else None

    @staticmethod
    def _contained(words: str, table: object) -> str | None:
        # Free-speech engines may wrap the phrase ("uh yes please"): accept one intent
        # whose phrase occurs as whole words, but never guess between two.
        padded = f" {words} "
        hits = {v for v, phrases in table for p in phrases if f" {p} " in padded}  # type: ignore[attr-defined]
        return hits.pop() if len(hits) == 1 else None
