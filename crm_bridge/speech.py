"""Order status as one sentence for text-to-speech, in English and Polish.

Order numbers are read digit by digit ("1 0 0 2 3 4"), as a caller would repeat them;
dates are spelled as people say them ("Thursday, November 27th", "w czwartek,
dwudziestego siódmego listopada") because espeak-ng reads "27" as a cardinal.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crm_bridge.models import Order

_EN_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_EN_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
# Genitive month names and "on <weekday>" (accusative, "we" before "wtorek").
_PL_MONTHS = [
    "stycznia",
    "lutego",
    "marca",
    "kwietnia",
    "maja",
    "czerwca",
    "lipca",
    "sierpnia",
    "września",
    "października",
    "listopada",
    "grudnia",
]
_PL_ON_DAYS = (
    "w poniedziałek",
    "we wtorek",
    "w środę",
    "w czwartek",
    "w piątek",
    "w sobotę",
    "w niedzielę",
)
_PL_ORDINAL_UNITS = (
    "",
    "pierwszego",
    "drugiego",
    "trzeciego",
    "czwartego",
    "piątego",
    "szóstego",
    "siódmego",
    "ósmego",
    "dziewiątego",
)
_PL_ORDINAL_TEENS = (
    "dziesiątego",
    "jedenastego",
    "dwunastego",
    "trzynastego",
    "czternastego",
    "piętnastego",
    "szesnastego",
    "siedemnastego",
    "osiemnastego",
    "dziewiętnastego",
)
_PL_ORDINAL_TENS = {2: "dwudziestego", 3: "trzydziestego"}


def spell_digits(text: str) -> str:
    """``"100234"`` -> ``"1 0 0 2 3 4"``: each character on its own."""
    return " ".join(text)


def spoken_status(order: Order, language: str = "en") -> str:
    """The sentence for ``order`` in ``language`` ("pl", anything else is English)."""
    if language == "pl":
        return _polish(order)
    return _english(order)


def _english(order: Order) -> str:
    subject = f"Your order {spell_digits(order.number)}"
    if order.status == "processing":
        sentence = f"{subject} is being prepared and has not shipped yet"
        if order.eta:
            sentence += f"; it should arrive on {_en_date(order.eta, weekday=True)}"
        return sentence + "."
    if order.status == "shipped":
        sentence = f"{subject} was shipped"
        if order.shipped_at:
            sentence += f" on {_en_date(order.shipped_at)}"
        if order.carrier:
            sentence += f" with {order.carrier}"
        if order.eta:
            sentence += f" and should arrive on {_en_date(order.eta, weekday=True)}"
        return sentence + "."
    if order.status == "delivered":
        when = f" on {_en_date(order.delivered_at)}" if order.delivered_at else ""
        return f"{subject} was delivered{when}."
    if order.status == "returned":
        return f"{subject} was returned to us and your refund is on its way."
    return f"{subject} was cancelled."


def _polish(order: Order) -> str:
    subject = f"Twoje zamówienie numer {spell_digits(order.number)}"
    if order.status == "processing":
        sentence = f"{subject} jest w przygotowaniu i nie zostało jeszcze wysłane"
        if order.eta:
            sentence += f". Powinno dotrzeć {_pl_date(order.eta, weekday=True)}"
        return sentence + "."
    if order.status == "shipped":
        sentence = f"{subject} zostało wysłane"
        if order.shipped_at:
            sentence += f" {_pl_date(order.shipped_at)}"
        if order.carrier:
            sentence += f" przez {order.carrier}"
        if order.eta:
            sentence += f" i powinno dotrzeć {_pl_date(order.eta, weekday=True)}"
        return sentence + "."
    if order.status == "delivered":
        when = f" {_pl_date(order.delivered_at)}" if order.delivered_at else ""
        return f"{subject} zostało doręczone{when}."
    if order.status == "returned":
        return f"{subject} zostało zwrócone, a zwrot pieniędzy jest w drodze."
    return f"{subject} zostało anulowane."


def _en_date(day: date | datetime, *, weekday: bool = False) -> str:
    text = f"{_EN_MONTHS[day.month - 1]} {_en_ordinal(day.day)}"
    return f"{_EN_DAYS[day.weekday()]}, {text}" if weekday else text


def _en_ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _pl_date(day: date | datetime, *, weekday: bool = False) -> str:
    text = f"{_pl_ordinal(day.day)} {_PL_MONTHS[day.month - 1]}"
    return f"{_PL_ON_DAYS[day.weekday()]}, {text}" if weekday else text


def _pl_ordinal(n: int) -> str:
    """The genitive ordinal for a day of the month, 1-31 ("dwudziestego siódmego")."""
    if n < 10:
        return _PL_ORDINAL_UNITS[n]
    if n < 20:
        return _PL_ORDINAL_TEENS[n - 10]
    tens, units = divmod(n, 10)
    return f"{_PL_ORDINAL_TENS[tens]} {_PL_ORDINAL_UNITS[units]}".strip()
