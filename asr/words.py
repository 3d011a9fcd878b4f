"""Spoken words -> values, per language: digits, yes/no synonyms.

The recognizers only ever return words from these tables when a grammar is active, so
mapping is a lookup; free speech goes through the same tables for the digits it contains.
"""

from __future__ import annotations

DIGITS: dict[str, dict[str, str]] = {
    "en": {
        "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4",
        "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
    },
    # Sino-Korean digits (what phone numbers use), 공 is the spoken "zero" of numbers;
    # vosk's Korean model also writes recognised numbers as "[N]" tokens.
    "ko": {
        "영": "0", "공": "0", "일": "1", "이": "2", "삼": "3", "사": "4", "오": "5",
        "육": "6", "칠": "7", "팔": "8", "구": "9",
        **{f"[{n}]": str(n) for n in range(10)},
    },
    "pl": {
        "zero": "0", "jeden": "1", "dwa": "2", "trzy": "3", "cztery": "4", "pięć": "5",
        "sześć": "6", "siedem": "7", "osiem": "8", "dziewięć": "9",
    },
}  # fmt: skip

YES_NO: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "yes": ("yes", "yeah", "yep", "sure", "correct", "right", "that is right", "yes please"),
        "no": ("no", "nope", "wrong", "incorrect", "no thanks", "not really"),
    },
    "ko": {"yes": ("네", "예", "응", "맞아요"), "no": ("아니요", "아니", "아니오")},
    "pl": {"yes": ("tak", "dobrze", "zgadza się"), "no": ("nie", "nie dziękuję")},
}


def digit_words(language: str) -> dict[str, str]:
    """Word -> digit for ``language`` (English when the language is unknown)."""
    return DIGITS.get(language, DIGITS["en"])


def yes_no(language: str) -> dict[str, tuple[str, ...]]:
    """ "yes"/"no" -> their spoken synonyms for ``language``."""
    return YES_NO.get(language, YES_NO["en"])
