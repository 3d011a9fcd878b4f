"""Password hashing for web/API users with scrypt (RFC 7914) from the standard library.

Stored format, one ASCII string (``$``-separated so it fits one text column)::

    scrypt$<n>$<r>$<p>$<salt, base64>$<derived key, base64>

The cost parameters travel with each hash, so raising them later keeps old hashes valid.
Hashing takes tens of milliseconds on purpose: call these from a worker thread, not the
event loop (`hotline.store.users.UserStore` does).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCHEME = "scrypt"
# n=2**14, r=8: 16 MiB and ~50 ms per hash; the interactive-login setting of RFC 7914.
N, R, P = 2**14, 8, 1
SALT_BYTES = 16
KEY_BYTES = 32
_MAXMEM = 64 * 1024 * 1024


def hash_password(password: str) -> str:
    """Hash ``password`` with a fresh random salt; returns the stored format above."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = _derive(password, salt, N, R, P, KEY_BYTES)
    return "$".join((SCHEME, str(N), str(R), str(P), _b64(salt), _b64(key)))


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored``; False for a wrong password or bad format."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        return False
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, key = base64.b64decode(parts[4]), base64.b64decode(parts[5])
        candidate = _derive(password, salt, n, r, p, len(key))
    except ValueError:
        return False
    return hmac.compare_digest(candidate, key)


def _derive(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=length
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
