"""The simulator hears typed utterances with the grammar a live call listens with."""

from __future__ import annotations

from ivr.grammars import grammar_of, interpret
from ivr.ports import Expect


def test_keys_only_questions_have_no_grammar() -> None:
    assert grammar_of(Expect()) is None
    assert interpret("order status", Expect()) is None


def test_digits_spoken_or_typed_within_the_length_bounds() -> None:
    expect = Expect(grammar="digits", min_len=6, max_len=6)
    assert interpret("one zero zero two three four", expect) == "100234"
    assert interpret("100234", expect) == "100234"
    assert interpret("1002", expect) is None  # too short for the question
    assert interpret("one zero banana", expect) is None


def test_polish_digits_and_yes_no() -> None:
    assert interpret("jeden dwa trzy", Expect(grammar="digits", language="pl")) == "123"
    assert interpret("12", Expect(grammar="digits", language="pl")) == "12"
    assert interpret("tak", Expect(grammar="yesno", language="pl")) == "yes"
    assert interpret("yes please", Expect(grammar="yesno")) == "yes"
    assert interpret("not really", Expect(grammar="yesno")) == "no"


def test_phrases_map_synonyms_to_their_intent() -> None:
    expect = Expect(grammar="phrases", phrases={"orders": ["order status"], "agent": ["agent"]})
    assert interpret("order status", expect) == "orders"
    assert interpret("uh agent", expect) == "agent"
    assert interpret("order status agent", expect) is None  # never guess between two
