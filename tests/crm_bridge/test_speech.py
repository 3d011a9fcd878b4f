"""Order.spoken_status: the sentence the IVR reads, in English and Polish."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from crm_bridge import Order
from crm_bridge.speech import _pl_ordinal

PLACED = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def _order(status: str, **kwargs: object) -> Order:
    return Order("100234", 1, status, PLACED, Decimal("99.00"), **kwargs)  # type: ignore[arg-type]


SHIPPED = _order(
    "shipped",
    carrier="DPD",
    tracking="1000100234000U",
    shipped_at=datetime(2026, 11, 24, 8, 0, tzinfo=UTC),
    eta=date(2026, 11, 27),
)


def test_shipped_english() -> None:
    assert SHIPPED.spoken_status() == (
        "Your order 1 0 0 2 3 4 was shipped on November 24th with DPD"
        " and should arrive on Friday, November 27th."
    )


def test_shipped_polish() -> None:
    assert SHIPPED.spoken_status("pl") == (
        "Twoje zamówienie numer 1 0 0 2 3 4 zostało wysłane dwudziestego czwartego listopada"
        " przez DPD i powinno dotrzeć w piątek, dwudziestego siódmego listopada."
    )


@pytest.mark.parametrize(
    ("order", "english", "polish"),
    [
        (
            _order("processing", eta=date(2026, 12, 1)),
            "is being prepared and has not shipped yet; it should arrive on Tuesday, December 1st.",
            "jest w przygotowaniu i nie zostało jeszcze wysłane. Powinno dotrzeć we wtorek,"
            " pierwszego grudnia.",
        ),
        (
            _order("delivered", delivered_at=datetime(2026, 11, 22, 12, tzinfo=UTC)),
            "was delivered on November 22nd.",
            "zostało doręczone dwudziestego drugiego listopada.",
        ),
        (
            _order("returned"),
            "was returned to us and your refund is on its way.",
            "zostało zwrócone, a zwrot pieniędzy jest w drodze.",
        ),
        (_order("cancelled"), "was cancelled.", "zostało anulowane."),
    ],
)
def test_every_status(order: Order, english: str, polish: str) -> None:
    assert order.spoken_status("en") == f"Your order 1 0 0 2 3 4 {english}"
    assert order.spoken_status("pl") == f"Twoje zamówienie numer 1 0 0 2 3 4 {polish}"


def test_unknown_language_falls_back_to_english() -> None:
    assert SHIPPED.spoken_status("ko").startswith("Your order 1 0 0 2 3 4")


@pytest.mark.parametrize(
    ("day", "word"),
    [
        (1, "pierwszego"),
        (11, "jedenastego"),
        (20, "dwudziestego"),
        (31, "trzydziestego pierwszego"),
    ],
)
def test_polish_ordinals(day: int, word: str) -> None:
    assert _pl_ordinal(day) == word
