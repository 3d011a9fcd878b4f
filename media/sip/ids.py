"""Fresh identifiers: Via branches, From/To tags and Call-IDs (RFC 3261 §8.1.1)."""

from __future__ import annotations

import secrets

from .headers import MAGIC_COOKIE


def new_branch() -> str:
    """A Via branch unique in space and time, with the magic cookie (§8.1.1.7).

    16 url-safe characters (96 random bits) follow ``z9hG4bK``; every one of
    them is a ``token`` character, so the value needs no quoting.
    """
    return MAGIC_COOKIE + secrets.token_urlsafe(12)


def new_tag() -> str:
    """A From/To tag with at least 32 bits of randomness (§19.3): we use 64."""
    return secrets.token_urlsafe(8)


def new_call_id(host: str) -> str:
    """A globally unique Call-ID, ``random@host`` (§8.1.1.4), 128 random bits."""
    return f"{secrets.token_urlsafe(16)}@{host}"
