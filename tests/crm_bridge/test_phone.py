"""normalize_phone: every shape a caller number arrives in, and what is not a number."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_bridge import normalize_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+48601234567", "+48601234567"),
        ("sip:+48 601 234 567@host", "+48601234567"),
        ("sip:+48601000001@10.0.0.1:5060;user=phone", "+48601000001"),
        ("sips:+48601000001:secret@host", "+48601000001"),
        ("sip:%2B48601000001@host", "+48601000001"),  # percent-encoded "+"
        ('"Anna Kowalska" <sip:+48601000001@host>;tag=a1', "+48601000001"),
        ("<tel:+48-601-234-567>", "+48601234567"),
        ("tel:+1-201-555-0123;ext=12", "+12015550123"),
        ("tel:601234567;phone-context=+48", "+48601234567"),  # RFC 3966 local number
        ("601234567", "+48601234567"),  # national, default region PL
        ("0601234567", "+48601234567"),  # the old trunk "0" habit
        ("022 123 45 67", "+48221234567"),
        ("(22) 123-45-67", "+48221234567"),
        ("0048601234567", "+48601234567"),  # international prefix from Poland
        ("48601234567", "+48601234567"),  # country code without "+"
        ("sip:48601234567@gw", "+48601234567"),
        ("+44 7700 900123", "+447700900123"),
        ("  +48 601 234 567  ", "+48601234567"),
    ],
)
def test_normalizes_to_e164(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("(202) 555-0123", "US", "+12025550123"),
        ("07700 900123", "GB", "+447700900123"),
        ("030 1234567", "DE", "+49301234567"),
        ("011 48 601 234 567", "US", "+48601234567"),  # US international prefix
    ],
)
def test_default_region(raw: str, region: str, expected: str) -> None:
    assert normalize_phone(raw, default_region=region) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "abc",
        "sip:1001@host",  # an extension, not a phone number
        "sip:anonymous@anonymous.invalid",
        '"Anonymous" <sip:anonymous@anonymous.invalid>',
        "sip:+4860@host",  # too short
        "+48 601 234 567 890 123",  # too long
        "sip:@host",
        "tel:",
        "sip:+48601234567abc@host",
        "+",
        "++48601234567",
        "<sip:",
        None,
        48601234567,
    ],
)
def test_garbage_is_none(raw: object) -> None:
    assert normalize_phone(raw) is None


def test_unknown_region_is_none_not_an_error() -> None:
    assert normalize_phone("601234567", default_region="XX") is None
    assert normalize_phone("+48601234567", default_region="XX") == "+48601234567"


@given(st.text(max_size=60))
def test_never_raises_and_returns_e164(raw: str) -> None:
    result = normalize_phone(raw)
    assert result is None or (result.startswith("+") and result[1:].isdigit())


@given(st.text(alphabet="0123456789+-() ;=@:<>%sipte", max_size=40))
def test_never_raises_on_uri_like_text(raw: str) -> None:
    result = normalize_phone("sip:" + raw)
    assert result is None or result == normalize_phone(result)
