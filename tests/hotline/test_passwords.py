"""scrypt password hashes for web users."""

from __future__ import annotations

import pytest

from hotline.store.passwords import hash_password, verify_password


def test_hash_verifies_and_rejects_wrong_password() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$16384$8$1$")
    assert verify_password("correct horse", stored)
    assert not verify_password("correct hors", stored)
    assert not verify_password("", stored)


def test_salt_is_random() -> None:
    assert hash_password("same") != hash_password("same")


def test_non_ascii_password() -> None:
    assert verify_password("zażółć gęślą jaźń", hash_password("zażółć gęślą jaźń"))


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain-text",
        "bcrypt$16384$8$1$AAAA$AAAA",
        "scrypt$x$8$1$AAAA$AAAA",
        "scrypt$16384$8$1$!!!$AAAA",
        "scrypt$3$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAA",  # n must be a power of two
        "scrypt$16384$8$1$AAAA",
    ],
)
def test_malformed_hash_never_verifies(stored: str) -> None:
    assert verify_password("anything", stored) is False
