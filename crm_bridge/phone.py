"""Caller numbers to E.164, whatever shape they arrive in (SIP URI, tel: URI, national).

Phone numbers are stored and looked up only in E.164 (``+48601234567``), so one number
written three ways by three systems is still one key.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

import phonenumbers

DEFAULT_REGION = "PL"

# A name-addr's display name and angle brackets: '"Anna" <sip:+48...@host;user=phone>'
_NAME_ADDR = re.compile(r"<([^>]*)>")
_SCHEME = re.compile(r"^(sips?|tel):", re.IGNORECASE)
# Visual separators RFC 3966 allows in a tel: number; phonenumbers ignores most, not all.
_SEPARATORS = re.compile(r"[\s.()\-]")
_DIALABLE = re.compile(r"^\+?[0-9]+$")


def normalize_phone(value: object, default_region: str = DEFAULT_REGION) -> str | None:
    """``value`` as an E.164 string, or None when it is not a possible phone number.

    Accepts ``sip:``/``sips:`` URIs (the user part, percent-decoded), name-addrs,
    ``tel:`` URIs (RFC 3966, with a ``phone-context`` that is a country prefix),
    international numbers (``+48 …``, ``0048 …``) and national numbers of
    ``default_region``. Never raises: anonymous callers, extensions such as ``1001``
    and anything else that is not a phone number give None.
    """
    if not isinstance(value, str):
        return None
    try:
        digits = _dialable(value)
        if digits is None:
            return None
        number = _parse(digits, default_region)
    except (phonenumbers.NumberParseException, ValueError):
        return None
    if number is None:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _parse(digits: str, region: str) -> phonenumbers.PhoneNumber | None:
    number = phonenumbers.parse(digits, region)
    if phonenumbers.is_valid_number(number):
        return number
    if digits.startswith("0") and not digits.startswith("00"):
        # Poland dropped its trunk "0" long ago but callers and old systems still write
        # "0601…"; a number that is only valid without it means the "0" was a habit.
        bare = phonenumbers.parse(digits[1:], region)
        if phonenumbers.is_valid_number(bare):
            return bare
    # Not valid but the right length: an unassigned range or a test number is still the
    # caller's identity, so keep it.
    return number if phonenumbers.is_possible_number(number) else None


def _dialable(value: str) -> str | None:
    """The number part of ``value``: ``+`` and digits only, or None."""
    text = value.strip()
    bracketed = _NAME_ADDR.search(text)
    if bracketed is not None:
        text = bracketed.group(1).strip()
    scheme = _SCHEME.match(text)
    params: list[str] = []
    if scheme is not None:
        text = text[scheme.end() :]
        if scheme.group(1).lower() != "tel":
            text = text.split("@", 1)[0].split(":", 1)[0]  # user part, without a password
        text, *params = text.split(";")
    number = _SEPARATORS.sub("", unquote(text))
    if not _DIALABLE.match(number):
        return None
    context = _phone_context(params)
    if context and not number.startswith("+"):
        number = context + number  # RFC 3966 5.1.5: a local number within +CC
    return number


def _phone_context(params: list[str]) -> str | None:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "phone-context":
            prefix = _SEPARATORS.sub("", value.strip())
            if _DIALABLE.match(prefix) and prefix.startswith("+"):
                return prefix
    return None
