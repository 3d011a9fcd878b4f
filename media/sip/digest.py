"""Sans-IO HTTP Digest authentication for SIP.

Grammar from RFC 3261 §25.1 (``challenge`` / ``credentials``); semantics from RFC 7616, which
RFC 8760 §2 substitutes for RFC 2617 in SIP and extends with SHA-256 / SHA-512-256.

* :func:`parse_challenge` / :func:`parse_credentials` turn a WWW-/Proxy-Authenticate or
  (Proxy-)Authorization header value into a frozen :class:`Challenge` / :class:`Credentials`;
  ``str()`` turns them back into a header value.  Malformed input raises :class:`DigestError`,
  whose text is fit for a 400 reason phrase.
* :class:`DigestAuthenticator` is the server (registrar / proxy) side: it issues challenges and
  verifies credentials into :class:`Ok`, :class:`Stale` or :class:`Rejected`.  It does no I/O and
  reads no clock: ``now`` is passed in.
* :func:`answer_challenge` is the client (UAC) side.

Nonces are stateless (:class:`HmacNonces`): they carry their creation time and a MAC keyed by a
shared secret, so any process holding the secret can check them.  Replay protection by
nonce-count (RFC 7616 §3.4, §5.5) is a bounded in-memory table per process: across processes,
or once an entry is evicted, a replayed request is only refused after the nonce expires.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import struct
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import Protocol

__all__ = [
    "AuthResult",
    "Challenge",
    "Credentials",
    "DigestAuthenticator",
    "DigestError",
    "DigestUsageError",
    "Ha1Lookup",
    "HmacNonces",
    "NonceCountCache",
    "NonceSource",
    "NonceStatus",
    "Ok",
    "Rejected",
    "Stale",
    "answer_challenge",
    "compute_response",
    "ha1",
    "parse_challenge",
    "parse_credentials",
    "select_challenge",
]


class DigestError(ValueError):
    """The peer sent something we cannot use (a malformed header, an unanswerable challenge).

    The message names the fault; ``status_hint`` is the SIP response to send for it.
    """

    status_hint = 400


class DigestUsageError(ValueError):
    """The local caller misused the API (bad configuration, unserializable values)."""


# --- Grammar: RFC 3261 §25.1 -------------------------------------------------------------------

# LWS = [*WSP CRLF] 1*WSP ; SWS = [LWS]  (RFC 3261 §25.1)
_LWS = r"(?:[ \t]*\r\n)?[ \t]+"
_LWS_RE = re.compile(_LWS)
_SWS_RE = re.compile(rf"(?:{_LWS})?")
_EQUAL_RE = re.compile(rf"(?:{_LWS})?=(?:{_LWS})?")
_COMMA_RE = re.compile(rf"(?:{_LWS})?,(?:{_LWS})?")
# token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
_TOKEN_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
# quoted-string = DQUOTE *(qdtext / quoted-pair) DQUOTE
# qdtext = LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII
# quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
_QUOTED_RE = re.compile(
    r'"((?:[\t !#-\[\]-~\x80-\U0010ffff]|\r\n[ \t]|\\[\x00-\x09\x0b\x0c\x0e-\x7f])*)"'
)
_QUOTED_PAIR_RE = re.compile(r"\\([\x00-\x7f])")
_FOLD_RE = re.compile(r"\r\n(?=[ \t])")
# Characters a quoted-string can only carry as a quoted-pair.
_NEEDS_ESCAPE_RE = re.compile(r'[\x00-\x08\x0b\x0c\x0e-\x1f\x7f"\\]')
_NC_RE = re.compile(r"[0-9a-f]{8}")  # nc-value = 8LHEX

_Params = list[tuple[str, str]]
_ExtraParams = tuple[tuple[str, str], ...]


class _Cursor:
    """A position in a header value, advanced by the grammar rules below."""

    __slots__ = ("pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def take(self, rule: re.Pattern[str]) -> re.Match[str] | None:
        match = rule.match(self.text, self.pos)
        if match is not None:
            self.pos = match.end()
        return match

    def at_end(self) -> bool:
        return self.pos == len(self.text)

    def fail(self, expected: str) -> DigestError:
        return DigestError(f"expected {expected} at offset {self.pos}")


def _auth_param(cursor: _Cursor) -> tuple[str, str]:
    """auth-param = auth-param-name EQUAL ( token / quoted-string )."""
    name = cursor.take(_TOKEN_RE)
    if name is None:
        raise cursor.fail("parameter name")
    key = name.group().lower()
    if cursor.take(_EQUAL_RE) is None:
        raise cursor.fail(f"'=' after parameter {key!r}")
    if cursor.text.startswith('"', cursor.pos):
        quoted = cursor.take(_QUOTED_RE)
        if quoted is None:
            raise DigestError(
                f"malformed quoted-string for parameter {key!r} at offset {cursor.pos}"
            )
        return key, _unquote(quoted.group(1))
    token = cursor.take(_TOKEN_RE)
    if token is None:
        raise cursor.fail(f"value for parameter {key!r}")
    return key, token.group()


def _unquote(body: str) -> str:
    """Unfold LWS (RFC 3261 §7.3.1) and resolve quoted-pairs inside a quoted-string."""
    return _QUOTED_PAIR_RE.sub(lambda m: m.group(1), _FOLD_RE.sub("", body))


def _parse_auth(value: str) -> tuple[str, _Params]:
    """Split ``scheme LWS auth-param *(COMMA auth-param)`` into its scheme and parameters."""
    cursor = _Cursor(value)
    cursor.take(_SWS_RE)
    scheme = cursor.take(_TOKEN_RE)
    if scheme is None:
        raise cursor.fail("auth scheme")
    if cursor.take(_LWS_RE) is None:
        raise cursor.fail("whitespace after auth scheme")
    params = [_auth_param(cursor)]
    while cursor.take(_COMMA_RE) is not None:
        params.append(_auth_param(cursor))
    cursor.take(_SWS_RE)
    if not cursor.at_end():
        raise cursor.fail("',' or end of value")
    return scheme.group(), params


def _digest_params(value: str) -> dict[str, str]:
    """Parse a ``Digest`` header value into a name -> value map (names lower-cased)."""
    scheme, params = _parse_auth(value)
    if scheme.lower() != "digest":
        raise DigestError(f"unsupported auth scheme {scheme!r}")
    found: dict[str, str] = {}
    for name, param in params:
        if name in found:
            raise DigestError(f"duplicate parameter {name!r}")
        found[name] = param
    return found


def _require(params: dict[str, str], name: str) -> str:
    if name not in params:
        raise DigestError(f"missing parameter {name!r}")
    return params.pop(name)


def _token_value(params: dict[str, str], name: str) -> str | None:
    """A parameter whose value must be a token (it may arrive quoted; RFC 7616 §3.4)."""
    value = params.pop(name, None)
    if value is not None and not _TOKEN_RE.fullmatch(value):
        raise DigestError(f"invalid {name} value {value!r}")
    return value


# --- Serialization: RFC 7616 §3.3 / §3.4 quoting rules ----------------------------------------


def _quote(name: str, value: str) -> str:
    if "\r" in value or "\n" in value:
        raise DigestUsageError(f"parameter {name!r} contains CR or LF")
    return '"' + _NEEDS_ESCAPE_RE.sub(lambda m: "\\" + m.group(), value) + '"'


def _bare(name: str, value: str) -> str:
    if not _TOKEN_RE.fullmatch(value):
        raise DigestUsageError(f"parameter {name!r} must be a token, got {value!r}")
    return value


def _render(fields: Iterable[tuple[str, str | None, bool]], extra: _ExtraParams) -> str:
    """Join ``(name, value, quoted)`` fields, skipping absent ones, then the extra params."""
    parts = [
        f"{name}={_quote(name, value) if quoted else _bare(name, value)}"
        for name, value, quoted in fields
        if value is not None
    ]
    for name, value in extra:
        rendered = value if _TOKEN_RE.fullmatch(value) else _quote(name, value)
        parts.append(f"{_bare('extension', name)}={rendered}")
    return "Digest " + ", ".join(parts)


# --- Algorithms: RFC 7616 §3.2, §6.1; RFC 8760 §2.1 -------------------------------------------


@dataclass(frozen=True, slots=True)
class _Algorithm:
    name: str
    hashlib_name: str
    sess: bool

    @property
    def base(self) -> str:
        """The algorithm whose H(username:realm:password) a ``-sess`` variant builds on."""
        return self.name.removesuffix("-sess")

    def hex(self, data: str | bytes) -> str:
        raw = data.encode("utf-8") if isinstance(data, str) else data
        return hashlib.new(self.hashlib_name, raw).hexdigest()


_ALGORITHMS = {
    algorithm.name.lower(): algorithm
    for base, hashlib_name in (("MD5", "md5"), ("SHA-256", "sha256"), ("SHA-512-256", "sha512_256"))
    for algorithm in (
        _Algorithm(base, hashlib_name, sess=False),
        _Algorithm(f"{base}-sess", hashlib_name, sess=True),
    )
}


def _find_algorithm(name: str | None) -> _Algorithm | None:
    """Look an algorithm up by name; an absent ``algorithm`` means MD5 (RFC 7616 §3.3)."""
    return _ALGORITHMS.get((name or "MD5").lower())


def _canonical_algorithm(name: str | None) -> str | None:
    """Known algorithm names are case-insensitive ABNF literals; spell them canonically."""
    known = _ALGORITHMS.get(name.lower()) if name is not None else None
    return known.name if known is not None else name


def _algorithm_or_raise(name: str | None, error: type[ValueError] = DigestError) -> _Algorithm:
    algorithm = _find_algorithm(name)
    if algorithm is None:
        raise error(f"unsupported algorithm {name!r}")
    return algorithm


# --- Header models ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Challenge:
    """A Digest challenge (WWW-Authenticate / Proxy-Authenticate value, RFC 7616 §3.3).

    ``algorithm`` is None when absent (meaning MD5); ``qop`` holds the offered qop-options,
    empty when absent (RFC 2069 mode).  Unknown parameters are kept in ``extra`` in order.
    """

    realm: str
    nonce: str
    algorithm: str | None = None
    qop: tuple[str, ...] = ()
    opaque: str | None = None
    stale: bool = False
    domain: str | None = None
    extra: _ExtraParams = ()

    def __str__(self) -> str:
        return _render(
            [
                ("realm", self.realm, True),
                ("domain", self.domain, True),
                ("qop", ", ".join(self.qop) if self.qop else None, True),
                ("algorithm", self.algorithm, False),
                ("nonce", self.nonce, True),
                ("opaque", self.opaque, True),
                ("stale", "TRUE" if self.stale else None, False),
            ],
            self.extra,
        )


@dataclass(frozen=True, slots=True)
class Credentials:
    """Digest credentials (Authorization / Proxy-Authorization value, RFC 7616 §3.4).

    ``nc`` is the nonce-count as an integer; ``uri`` is the digest-uri, which the caller should
    compare with the Request-URI (RFC 3261 §22.4).
    """

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str | None = None
    qop: str | None = None
    nc: int | None = None
    cnonce: str | None = None
    opaque: str | None = None
    extra: _ExtraParams = ()

    def __str__(self) -> str:
        if self.nc is not None and not 0 <= self.nc <= 0xFFFFFFFF:
            raise DigestUsageError(f"nc {self.nc} does not fit 8 hex digits")
        return _render(
            [
                ("username", self.username, True),
                ("realm", self.realm, True),
                ("uri", self.uri, True),
                ("algorithm", self.algorithm, False),
                ("nonce", self.nonce, True),
                ("nc", None if self.nc is None else f"{self.nc:08x}", False),
                ("cnonce", self.cnonce, True),
                ("qop", self.qop, False),
                ("response", self.response, True),
                ("opaque", self.opaque, True),
            ],
            self.extra,
        )


def _qop_options(value: str | None) -> tuple[str, ...]:
    """qop-options = "qop" EQUAL LDQUOT qop-value *("," qop-value) RDQUOT (RFC 3261 §25.1)."""
    if value is None:
        return ()
    options = tuple(option.strip(" \t") for option in value.split(","))
    if not all(_TOKEN_RE.fullmatch(option) for option in options):
        raise DigestError(f"invalid qop value {value!r}")
    return options


def parse_challenge(value: str) -> Challenge:
    """Parse a WWW-Authenticate / Proxy-Authenticate header value.

    Raises :class:`DigestError` naming the fault when the value is malformed, is not a Digest
    challenge, or lacks ``realm`` / ``nonce``.
    """
    params = _digest_params(value)
    realm, nonce = _require(params, "realm"), _require(params, "nonce")
    stale = params.pop("stale", None)
    return Challenge(
        realm=realm,
        nonce=nonce,
        algorithm=_canonical_algorithm(_token_value(params, "algorithm")),
        qop=_qop_options(params.pop("qop", None)),
        opaque=params.pop("opaque", None),
        # Anything but a case-insensitive "true" means not stale (RFC 7616 §3.3).
        stale=stale is not None and stale.lower() == "true",
        domain=params.pop("domain", None),
        extra=tuple(params.items()),
    )


def _nonce_count(value: str | None) -> int | None:
    if value is None:
        return None
    if not _NC_RE.fullmatch(value):
        raise DigestError(f"invalid nc value {value!r} (expected 8 lowercase hex digits)")
    return int(value, 16)


def parse_credentials(value: str) -> Credentials:
    """Parse an Authorization / Proxy-Authorization header value.

    Raises :class:`DigestError` naming the fault when the value is malformed, is not Digest, or
    lacks one of ``username``, ``realm``, ``nonce``, ``uri``, ``response``.
    """
    params = _digest_params(value)
    required = [_require(params, name) for name in ("username", "realm", "nonce", "uri")]
    username, realm, nonce, uri = required
    return Credentials(
        username=username,
        realm=realm,
        nonce=nonce,
        uri=uri,
        response=_require(params, "response"),
        algorithm=_canonical_algorithm(_token_value(params, "algorithm")),
        qop=_token_value(params, "qop"),
        nc=_nonce_count(params.pop("nc", None)),
        cnonce=params.pop("cnonce", None),
        opaque=params.pop("opaque", None),
        extra=tuple(params.items()),
    )


# --- The digest computation: RFC 7616 §3.4.1-§3.4.3, RFC 2069 §2.1.2 --------------------------


def ha1(username: str, realm: str, password: str, algorithm: str = "SHA-256") -> str:
    """H(username:realm:password) as lowercase hex, the value a registrar stores per user.

    For a ``-sess`` algorithm this is the stored base value (the session key is derived per
    request), so it equals the result for the algorithm without ``-sess``.
    """
    found = _algorithm_or_raise(algorithm, DigestUsageError)
    return found.hex(f"{username}:{realm}:{password}")


def compute_response(credentials: Credentials, *, ha1: str, method: str, body: bytes = b"") -> str:
    """The ``response`` value for ``credentials`` (its own ``response`` field is ignored).

    ``ha1`` is the stored H(username:realm:password); ``body`` only matters for
    ``qop=auth-int``.  Raises :class:`DigestError` for an unknown algorithm or for ``-sess`` /
    qop without the cnonce (and nc) they need.
    """
    algorithm = _algorithm_or_raise(credentials.algorithm)
    c = credentials
    key = ha1.lower()
    if algorithm.sess:
        if c.cnonce is None:
            raise DigestError(f"{algorithm.name} needs a cnonce")
        key = algorithm.hex(f"{key}:{c.nonce}:{c.cnonce}")
    a2 = f"{method}:{c.uri}"
    if c.qop == "auth-int":
        a2 = f"{a2}:{algorithm.hex(body)}"
    ha2 = algorithm.hex(a2)
    if c.qop is None:
        return algorithm.hex(f"{key}:{c.nonce}:{ha2}")
    if c.cnonce is None or c.nc is None:
        raise DigestError(f"qop={c.qop} needs cnonce and nc")
    return algorithm.hex(f"{key}:{c.nonce}:{c.nc:08x}:{c.cnonce}:{c.qop}:{ha2}")


# --- Nonces -----------------------------------------------------------------------------------


class NonceStatus(Enum):
    """What a :class:`NonceSource` says about a nonce it is shown."""

    VALID = "valid"  # ours and fresh
    STALE = "stale"  # ours but expired: answer with stale=TRUE (RFC 7616 §3.3)
    INVALID = "invalid"  # not ours (forged, tampered, garbled)


class NonceSource(Protocol):
    """Issues and checks nonces; the seam for tests and for other nonce policies."""

    def issue(self, now: float) -> str:
        """A fresh nonce created at ``now``."""
        ...

    def check(self, nonce: str, now: float) -> NonceStatus:
        """Whether ``nonce`` came from this source, and whether it is still fresh at ``now``."""
        ...


_NONCE_RE = re.compile(r"[A-Za-z0-9_-]{48}")  # base64url of 36 bytes, unpadded


class HmacNonces:
    """Stateless nonces: base64url(issued-at || 12 random bytes || HMAC-SHA256 tag[:16]).

    Any process with the same ``secret`` and ``realm`` can check them, provided the ``now``
    values it is given come from a clock shared by those processes (wall time, not a
    monotonic loop clock).  A nonce is stale once ``|now - issued-at| > lifetime``.
    """

    __slots__ = ("_entropy", "_key", "lifetime")

    def __init__(
        self,
        secret: bytes,
        realm: str,
        lifetime: float = 300.0,
        *,
        entropy: Callable[[int], bytes] = os.urandom,
    ) -> None:
        if not secret:
            raise DigestUsageError("nonce secret must not be empty")
        self._key = hmac.new(secret, b"hotline-digest-nonce\0" + realm.encode(), "sha256").digest()
        self._entropy = entropy
        self.lifetime = lifetime

    def issue(self, now: float) -> str:
        body = struct.pack(">d", now) + self._entropy(12)
        return base64.urlsafe_b64encode(body + self._tag(body)).decode("ascii")

    def check(self, nonce: str, now: float) -> NonceStatus:
        if not _NONCE_RE.fullmatch(nonce):
            return NonceStatus.INVALID
        raw = base64.urlsafe_b64decode(nonce)
        body, tag = raw[:20], raw[20:]
        if not hmac.compare_digest(tag, self._tag(body)):
            return NonceStatus.INVALID
        (issued,) = struct.unpack(">d", body[:8])
        return NonceStatus.VALID if abs(now - issued) <= self.lifetime else NonceStatus.STALE

    def _tag(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, "sha256").digest()[:16]


class NonceCountCache:
    """Bounded LRU of the highest nonce-count accepted per nonce (RFC 7616 §3.4, §5.5)."""

    __slots__ = ("_capacity", "_seen")

    def __init__(self, capacity: int = 4096) -> None:
        if capacity < 1:
            raise DigestUsageError("capacity must be at least 1")
        self._capacity = capacity
        self._seen: OrderedDict[str, int] = OrderedDict()

    def advance(self, nonce: str, nc: int) -> bool:
        """Record ``nc`` for ``nonce``; False (a replay) unless it exceeds the last one seen."""
        if nc <= self._seen.get(nonce, 0):
            return False
        self._seen[nonce] = nc
        self._seen.move_to_end(nonce)
        if len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return True


# --- Server -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ok:
    """The credentials are good."""

    username: str


@dataclass(frozen=True, slots=True)
class Stale:
    """The response is right but the nonce expired: re-challenge with ``stale=True``."""

    username: str


@dataclass(frozen=True, slots=True)
class Rejected:
    """The credentials fail; ``reason`` is for logs, not for the wire (answer 401/407/403)."""

    reason: str


AuthResult = Ok | Stale | Rejected
Ha1Lookup = Callable[[str, str, str], str | None]
"""``(username, realm, algorithm) -> stored HA1 hex or None``; algorithm never ends in -sess."""


class DigestAuthenticator:
    """Server side of Digest: issues challenges, verifies credentials.

    ``algorithms`` are offered in order of preference (RFC 8760 §2.3).  ``qop`` is ``"auth"``
    or None (challenges without qop).  Credentials without qop (RFC 2069 §2.1.2, old phones)
    are accepted unless ``allow_rfc2069`` is False; they are protected from replay only by the
    nonce lifetime.  ``nonces`` replaces the default :class:`HmacNonces`; ``opaque`` replaces
    the value derived from ``secret``.
    """

    def __init__(
        self,
        realm: str,
        secret: bytes,
        *,
        nonce_lifetime: float = 300.0,
        algorithms: Sequence[str] = ("SHA-256", "MD5"),
        qop: str | None = "auth",
        allow_rfc2069: bool = True,
        nonces: NonceSource | None = None,
        opaque: str | None = None,
        replay_capacity: int = 4096,
    ) -> None:
        if qop not in ("auth", None):
            raise DigestUsageError(f"unsupported qop {qop!r}; only 'auth' is")
        if not algorithms:
            raise DigestUsageError("at least one algorithm is needed")
        self.realm = realm
        self.algorithms = tuple(
            _algorithm_or_raise(name, DigestUsageError).name for name in algorithms
        )
        self.qop = qop
        self.allow_rfc2069 = allow_rfc2069
        self._nonces: NonceSource = (
            nonces if nonces is not None else HmacNonces(secret, realm, nonce_lifetime)
        )
        self.opaque = opaque if opaque is not None else _derive_opaque(secret, realm)
        self._counts = NonceCountCache(replay_capacity)
        self._decoy_key = hmac.new(secret, b"hotline-digest-decoy", "sha256").digest()

    def challenges(self, now: float, *, stale: bool = False) -> list[Challenge]:
        """One challenge per algorithm, preferred first, sharing one fresh nonce."""
        nonce = self._nonces.issue(now)
        qop = (self.qop,) if self.qop else ()
        return [
            Challenge(self.realm, nonce, algorithm, qop=qop, opaque=self.opaque, stale=stale)
            for algorithm in self.algorithms
        ]

    def verify(
        self,
        credentials: Credentials,
        *,
        method: str,
        lookup_ha1: Ha1Lookup | Mapping[tuple[str, str, str], str],
        now: float,
    ) -> AuthResult:
        """Check ``credentials`` sent with a request of ``method``.

        ``lookup_ha1`` is called (or indexed) with ``(username, realm, algorithm)``.  The
        digest-uri is not compared with the Request-URI: do that with ``credentials.uri``.
        """
        problem = self._precheck(credentials)
        if problem is not None:
            return Rejected(problem)
        status = self._nonces.check(credentials.nonce, now)
        if status is NonceStatus.INVALID:
            return Rejected("nonce is not ours")
        mismatch = self._check_response(credentials, method, lookup_ha1)
        if mismatch is not None:
            return Rejected(mismatch)
        if status is NonceStatus.STALE:
            return Stale(credentials.username)
        if credentials.nc is not None and not self._counts.advance(
            credentials.nonce, credentials.nc
        ):
            return Rejected("nonce-count replayed")
        return Ok(credentials.username)

    def _precheck(self, credentials: Credentials) -> str | None:
        """The checks that need neither the nonce nor the user's HA1."""
        algorithm = credentials.algorithm or "MD5"
        if credentials.realm != self.realm:
            return f"realm {credentials.realm!r} is not {self.realm!r}"
        if algorithm not in self.algorithms:
            return f"algorithm {algorithm!r} not offered"
        if credentials.qop is None and (not self.allow_rfc2069 or algorithm.endswith("-sess")):
            return f"qop is required with {algorithm}"
        if credentials.qop not in (None, "auth"):
            return f"qop {credentials.qop!r} not supported"
        if credentials.qop is not None and (credentials.cnonce is None or credentials.nc is None):
            return "qop=auth requires cnonce and nc"
        if credentials.opaque is not None and credentials.opaque != self.opaque:
            return "opaque does not match"
        return None

    def _check_response(
        self,
        credentials: Credentials,
        method: str,
        lookup_ha1: Ha1Lookup | Mapping[tuple[str, str, str], str],
    ) -> str | None:
        """None if the response is right; else why not (the work is the same either way)."""
        algorithm = _algorithm_or_raise(credentials.algorithm)
        key = (credentials.username, self.realm, algorithm.base)
        stored = lookup_ha1.get(key) if isinstance(lookup_ha1, Mapping) else lookup_ha1(*key)
        # An unknown user costs the same work as a known one (no enumeration by timing).
        decoy = hmac.new(self._decoy_key, credentials.username.encode(), "sha256").hexdigest()
        expected = compute_response(credentials, ha1=stored or decoy, method=method)
        same = hmac.compare_digest(expected.encode(), credentials.response.lower().encode())
        if stored is None:
            return "unknown user"
        return None if same else "wrong response"


def _derive_opaque(secret: bytes, realm: str) -> str:
    tag = hmac.new(secret, b"hotline-digest-opaque\0" + realm.encode(), "sha256").digest()
    return base64.urlsafe_b64encode(tag[:12]).decode("ascii")


# --- Client -----------------------------------------------------------------------------------


def select_challenge(challenges: Iterable[Challenge]) -> Challenge | None:
    """The topmost challenge whose algorithm we support (RFC 8760 §2.4), or None."""
    return next((c for c in challenges if _find_algorithm(c.algorithm) is not None), None)


def _choose_qop(offered: tuple[str, ...]) -> str | None:
    """Prefer auth, then auth-int; None when the challenge offers no qop (RFC 2069)."""
    if not offered:
        return None
    for qop in ("auth", "auth-int"):
        if qop in offered:
            return qop
    raise DigestError(f"no supported qop in {', '.join(offered)!r}")


def answer_challenge(
    challenge: Challenge,
    *,
    username: str,
    password: str,
    method: str,
    uri: str,
    cnonce: str | None = None,
    nc: int = 1,
    body: bytes = b"",
) -> Credentials:
    """Credentials answering ``challenge`` for a ``method`` request to ``uri``.

    Uses qop=auth when offered (auth-int over ``body`` if that is all that is offered) and
    RFC 2069 mode when the challenge has no qop.  ``cnonce`` defaults to a random value.
    Raises :class:`DigestError` if the challenge cannot be answered.
    """
    algorithm = _algorithm_or_raise(challenge.algorithm)
    qop = _choose_qop(challenge.qop)
    if algorithm.sess and qop is None:
        raise DigestError(f"challenge offers {algorithm.name} without qop")
    unsigned = Credentials(
        username=username,
        realm=challenge.realm,
        nonce=challenge.nonce,
        uri=uri,
        response="",
        algorithm=challenge.algorithm,
        qop=qop,
        nc=nc if qop else None,
        cnonce=(cnonce or secrets.token_urlsafe(16)) if qop else None,
        opaque=challenge.opaque,
    )
    key = ha1(username, challenge.realm, password, algorithm.base)
    return replace(unsigned, response=compute_response(unsigned, ha1=key, method=method, body=body))
