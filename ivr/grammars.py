"""A question's speech grammar: the same `asr.Grammar` for live calls and the simulator.

The simulator interprets typed utterances with the grammar a live call would listen
with, so a supervisor's simulation matches what callers get.
"""

from __future__ import annotations

import re

from asr import Grammar
from asr.words import DIGITS
from ivr.ports import Expect


def grammar_of(expect: Expect) -> Grammar | None:
    """The grammar ``expect`` listens with; None when the question takes keys only."""
    if expect.grammar is None:
        return None
    if expect.grammar == "phrases":
        return Grammar.phrases(expect.phrases)
    if expect.grammar == "digits":
        return Grammar.digits(min_len=expect.min_len, max_len=expect.max_len)
    return Grammar.yesno() if expect.grammar == "yesno" else Grammar.free()


def interpret(text: str, expect: Expect) -> str | None:
    """What a recognizer listening with ``expect``'s grammar makes of ``text``.

    Figures typed into the simulator ("100234") count as their spoken digits.
    """
    grammar = grammar_of(expect)
    if grammar is None:
        return None
    if grammar.name == "digits":
        text = _spell_figures(text, expect.language)
    return grammar.interpret(text, expect.language)


def _spell_figures(text: str, language: str) -> str:
    words = {digit: word for word, digit in reversed(DIGITS.get(language, DIGITS["en"]).items())}
    return re.sub(r"\d", lambda m: f" {words[m.group()]} ", text)
