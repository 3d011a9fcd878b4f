"""Grammars: construction, the CLI form, interpretation, and the compiled forms per engine."""

from __future__ import annotations

import json

import pytest

from asr import Grammar
from asr.engines.sphinx import jsgf
from asr.engines.vosk import phrase_json


def test_digits_map_words_including_oh_and_zero() -> None:
    g = Grammar.digits(min_len=4, max_len=8)
    assert g.interpret("one oh two zero") == "1020"
    assert g.interpret("One, two. Three four!") == "1234"
    assert g.interpret("one two") is None  # too short
    assert g.interpret("one two three four five six seven eight nine") is None  # too long
    assert g.interpret("one banana two three") is None


def test_korean_digits_and_vosk_number_tokens() -> None:
    g = Grammar.digits()
    assert g.interpret("삼 오 [2] 공", "ko") == "3520"


def test_yesno_synonyms() -> None:
    g = Grammar.yesno()
    assert [g.interpret(t) for t in ("yes", "yeah", "that is right", "nope", "maybe")] == [
        "yes", "yes", "yes", "no", None,
    ]  # fmt: skip
    assert g.interpret("uh yes please") == "yes"  # free-speech engines wrap the phrase
    assert g.interpret("yes no") is None  # never guess between two intents
    assert g.interpret("네", "ko") == "yes"


def test_phrases_map_to_intents() -> None:
    g = Grammar.phrases({"order_status": ["order status", "where is my order"],
                         "agent": ["agent", "operator"]})  # fmt: skip
    assert g.name == "phrases"
    assert g.interpret("Where is my order?") == "order_status"
    assert g.interpret("operator") == "agent"
    assert g.interpret("billing") is None


def test_parse_cli_forms() -> None:
    assert Grammar.parse("digits").name == "digits"
    assert Grammar.parse("yesno").name == "yesno"
    assert Grammar.parse("free").interpret("Hello there") == "hello there"
    g = Grammar.parse("check balance|talk to agent")
    assert g.interpret("talk to agent") == "talk to agent"
    with pytest.raises(ValueError):
        Grammar.parse("|")
    with pytest.raises(ValueError):
        Grammar.digits(min_len=5, max_len=2)


def test_jsgf_and_vosk_phrase_list() -> None:
    text = jsgf(Grammar.digits(), "en")
    assert "public <utt> = <item>+;" in text and "| oh |" in text
    bounded = jsgf(Grammar.digits(4, 6), "en")
    assert "public <utt> = <item> <item> <item> <item> [<item> [<item>]];" in bounded
    yesno = jsgf(Grammar.yesno(), "en", known={"yes", "no"})
    assert "<item> = yes | no;" in yesno  # phrases with words outside the dictionary dropped
    phrases = json.loads(phrase_json(Grammar.digits(), "ko") or "[]")
    assert "삼" in phrases and phrases[-1] == "[unk]"
    assert phrase_json(Grammar.free(), "en") is None
