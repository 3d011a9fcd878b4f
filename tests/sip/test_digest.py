"""Tests for media.sip.digest: RFC 7616 / RFC 2617 vectors, SIP round trips, grammar, fuzz."""

from __future__ import annotations

import dataclasses
import hashlib
import urllib.request

import pytest
from hypothesis import given
from hypothesis import strategies as st

from media.sip.digest import (
    Challenge,
    Credentials,
    DigestAuthenticator,
    DigestError,
    DigestUsageError,
    HmacNonces,
    NonceCountCache,
    NonceStatus,
    Ok,
    Rejected,
    Stale,
    answer_challenge,
    compute_response,
    ha1,
    parse_challenge,
    parse_credentials,
    select_challenge,
)

# --- RFC 7616 §3.9.1 "Example with SHA-256 and MD5" -------------------------------------------

RFC7616_REALM = "http-auth@example.org"
RFC7616_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC7616_OPAQUE = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
RFC7616_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
RFC7616_RESPONSES = {
    "MD5": "8ca523f5e9506fed4657c9700eebdbec",
    "SHA-256": "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
}
# The two WWW-Authenticate values of §3.9.1, folded as printed there.
RFC7616_CHALLENGE = (
    'Digest\r\n    realm="http-auth@example.org",\r\n    qop="auth, auth-int",\r\n'
    '    algorithm={alg},\r\n    nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",\r\n'
    '    opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
)
# The Authorization values of §3.9.1, unfolded.
RFC7616_AUTHORIZATION = (
    'Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", '
    'algorithm={alg}, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, '
    'cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, response="{response}", '
    'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
)

# --- RFC 2617 §3.5 example (MD5, qop=auth) ----------------------------------------------------

RFC2617_CHALLENGE = (
    'Digest realm="testrealm@host.com", qop="auth,auth-int", '
    'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)
RFC2617_AUTHORIZATION = (
    'Digest username="Mufasa", realm="testrealm@host.com", '
    'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, '
    'nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", '
    'opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)

ALL_ALGORITHMS = ("SHA-256", "SHA-256-sess", "SHA-512-256", "SHA-512-256-sess", "MD5", "MD5-sess")
SIP_REALM = "hotline.example.com"
SIP_URI = "sip:hotline.example.com"
T0 = 1_700_000_000.0  # fake wall clock; tests never sleep


@dataclasses.dataclass
class FixedNonce:
    """A NonceSource that knows one nonce: the seam for published vectors."""

    nonce: str
    status: NonceStatus = NonceStatus.VALID

    def issue(self, now: float) -> str:
        return self.nonce

    def check(self, nonce: str, now: float) -> NonceStatus:
        return self.status if nonce == self.nonce else NonceStatus.INVALID


def rfc7616_server(**kwargs: object) -> DigestAuthenticator:
    return DigestAuthenticator(
        RFC7616_REALM,
        b"unused",
        nonces=FixedNonce(RFC7616_NONCE),
        opaque=RFC7616_OPAQUE,
        **kwargs,  # type: ignore[arg-type]
    )


def mufasa_ha1s(realm: str, password: str) -> dict[tuple[str, str, str], str]:
    return {
        ("Mufasa", realm, alg): ha1("Mufasa", realm, password, alg) for alg in ("MD5", "SHA-256")
    }


# --- RFC vectors ------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["SHA-256", "MD5"])
def test_rfc7616_challenge_parses(alg: str) -> None:
    challenge = parse_challenge(RFC7616_CHALLENGE.format(alg=alg))
    assert challenge == Challenge(
        realm=RFC7616_REALM,
        nonce=RFC7616_NONCE,
        algorithm=alg,
        qop=("auth", "auth-int"),
        opaque=RFC7616_OPAQUE,
    )
    unfolded = RFC7616_CHALLENGE.format(alg=alg).replace(",\r\n    ", ", ")
    assert str(challenge) == unfolded.replace("Digest\r\n    ", "Digest ")


@pytest.mark.parametrize("alg", ["SHA-256", "MD5"])
def test_rfc7616_client_computes_published_response(alg: str) -> None:
    challenge = parse_challenge(RFC7616_CHALLENGE.format(alg=alg))
    credentials = answer_challenge(
        challenge,
        username="Mufasa",
        password="Circle of Life",
        method="GET",
        uri="/dir/index.html",
        cnonce=RFC7616_CNONCE,
    )
    expected = RFC7616_AUTHORIZATION.format(alg=alg, response=RFC7616_RESPONSES[alg])
    assert credentials.response == RFC7616_RESPONSES[alg]
    assert str(credentials) == expected
    assert parse_credentials(expected) == credentials


@pytest.mark.parametrize("alg", ["SHA-256", "MD5"])
def test_rfc7616_server_accepts_published_credentials(alg: str) -> None:
    value = RFC7616_AUTHORIZATION.format(alg=alg, response=RFC7616_RESPONSES[alg])
    result = rfc7616_server().verify(
        parse_credentials(value),
        method="GET",
        lookup_ha1=mufasa_ha1s(RFC7616_REALM, "Circle of Life"),
        now=T0,
    )
    assert result == Ok("Mufasa")


@pytest.mark.parametrize("alg", ["SHA-256", "MD5"])
def test_rfc7616_invalid_twin_one_digit_changed(alg: str) -> None:
    response = RFC7616_RESPONSES[alg]
    tampered = response[:-1] + ("0" if response[-1] != "0" else "1")
    value = RFC7616_AUTHORIZATION.format(alg=alg, response=tampered)
    result = rfc7616_server().verify(
        parse_credentials(value),
        method="GET",
        lookup_ha1=mufasa_ha1s(RFC7616_REALM, "Circle of Life"),
        now=T0,
    )
    assert result == Rejected("wrong response")


def test_rfc2617_example_client_and_server() -> None:
    challenge = parse_challenge(RFC2617_CHALLENGE)
    credentials = answer_challenge(
        challenge,
        username="Mufasa",
        password="Circle Of Life",
        method="GET",
        uri="/dir/index.html",
        cnonce="0a4f113b",
    )
    assert credentials == parse_credentials(RFC2617_AUTHORIZATION)
    server = DigestAuthenticator(
        "testrealm@host.com",
        b"unused",
        algorithms=("MD5",),
        nonces=FixedNonce(challenge.nonce),
        opaque=challenge.opaque,
    )
    lookup = mufasa_ha1s("testrealm@host.com", "Circle Of Life")
    assert server.verify(credentials, method="GET", lookup_ha1=lookup, now=T0) == Ok("Mufasa")


# --- Interop with an independent implementation: CPython's urllib.request ---------------------


@pytest.mark.parametrize("qop", [None, "auth"])
def test_server_accepts_cpython_urllib_credentials(qop: str | None) -> None:
    server = DigestAuthenticator(SIP_REALM, b"s3cret", algorithms=("MD5",), qop=qop)
    challenge = server.challenges(T0)[0]
    passwords = urllib.request.HTTPPasswordMgr()
    passwords.add_password(SIP_REALM, "http://pbx.example.com/", "alice", "wonderland")
    handler = urllib.request.HTTPDigestAuthHandler(passwords)
    request = urllib.request.Request("http://pbx.example.com/register")
    offered = {"realm": SIP_REALM, "nonce": challenge.nonce, "opaque": challenge.opaque or ""}
    if qop is not None:
        offered["qop"] = qop
    value = handler.get_authorization(request, offered)
    assert value is not None
    credentials = parse_credentials("Digest " + value)  # it sends algorithm="MD5", quoted
    assert credentials.algorithm == "MD5"
    lookup = {("alice", SIP_REALM, "MD5"): ha1("alice", SIP_REALM, "wonderland", "MD5")}
    result = server.verify(credentials, method="GET", lookup_ha1=lookup, now=T0 + 1)
    assert result == Ok("alice")


# --- SIP round trips: a desk phone REGISTERs --------------------------------------------------


def sip_register(
    server: DigestAuthenticator,
    challenge: Challenge,
    *,
    password: str = "wonderland",
    nc: int = 1,
    now: float = T0 + 1,
) -> Ok | Stale | Rejected:
    """The phone answers ``challenge``; the answer crosses the wire as text; we verify it."""
    credentials = answer_challenge(
        parse_challenge(str(challenge)),
        username="alice",
        password=password,
        method="REGISTER",
        uri=SIP_URI,
        nc=nc,
    )
    return server.verify(
        parse_credentials(str(credentials)), method="REGISTER", lookup_ha1=alice, now=now
    )


def alice(username: str, realm: str, algorithm: str) -> str | None:
    assert not algorithm.endswith("-sess")  # the stored value is the base HA1
    return ha1("alice", SIP_REALM, "wonderland", algorithm) if username == "alice" else None


def test_challenges_offer_sha256_first_with_one_nonce() -> None:
    server = DigestAuthenticator(SIP_REALM, b"s3cret")
    sha256, md5 = server.challenges(T0)
    assert (sha256.algorithm, md5.algorithm) == ("SHA-256", "MD5")
    assert sha256.nonce == md5.nonce and sha256.opaque == md5.opaque is not None
    assert sha256.qop == md5.qop == ("auth",)
    assert str(sha256) == (
        f'Digest realm="{SIP_REALM}", qop="auth", algorithm=SHA-256, nonce="{sha256.nonce}", '
        f'opaque="{sha256.opaque}"'
    )
    assert select_challenge([sha256, md5]) is sha256


def test_select_challenge_skips_unsupported_algorithms() -> None:
    unknown = Challenge(SIP_REALM, "n", algorithm="SHA-1")
    md5 = Challenge(SIP_REALM, "n")
    assert select_challenge([unknown, md5]) is md5
    assert select_challenge([unknown]) is None


@pytest.mark.parametrize("alg", ALL_ALGORITHMS)
def test_register_round_trip(alg: str) -> None:
    server = DigestAuthenticator(SIP_REALM, b"s3cret", algorithms=(alg,))
    (challenge,) = server.challenges(T0)
    assert sip_register(server, challenge) == Ok("alice")


@pytest.mark.parametrize("alg", ALL_ALGORITHMS)
def test_register_wrong_password_rejected(alg: str) -> None:
    server = DigestAuthenticator(SIP_REALM, b"s3cret", algorithms=(alg,))
    (challenge,) = server.challenges(T0)
    assert sip_register(server, challenge, password="alice") == Rejected("wrong response")


def test_sess_hashes_the_nonce_and_cnonce_into_ha1() -> None:
    challenge = Challenge(SIP_REALM, "abc", algorithm="MD5-sess", qop=("auth",))
    credentials = answer_challenge(
        challenge, username="alice", password="pw", method="REGISTER", uri=SIP_URI, cnonce="xyz"
    )

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    session_key = md5(f"{md5(f'alice:{SIP_REALM}:pw')}:abc:xyz")
    expected = md5(f"{session_key}:abc:00000001:xyz:auth:{md5(f'REGISTER:{SIP_URI}')}")
    assert credentials.response == expected


def test_unknown_user_rejected() -> None:
    server = DigestAuthenticator(SIP_REALM, b"s3cret")
    credentials = answer_challenge(
        server.challenges(T0)[0], username="mallory", password="x", method="REGISTER", uri=SIP_URI
    )
    result = server.verify(credentials, method="REGISTER", lookup_ha1=alice, now=T0)
    assert result == Rejected("unknown user")


def test_wrong_method_rejected() -> None:
    server = DigestAuthenticator(SIP_REALM, b"s3cret")
    credentials = answer_challenge(
        server.challenges(T0)[0],
        username="alice",
        password="wonderland",
        method="INVITE",
        uri=SIP_URI,
    )
    result = server.verify(credentials, method="REGISTER", lookup_ha1=alice, now=T0)
    assert result == Rejected("wrong response")


def test_uppercase_hex_response_accepted() -> None:
    server = DigestAuthenticator(SIP_REALM, b"s3cret")
    credentials = answer_challenge(
        server.challenges(T0)[0],
        username="alice",
        password="wonderland",
        method="REGISTER",
        uri=SIP_URI,
    )
    shouted = dataclasses.replace(credentials, response=credentials.response.upper())
    assert server.verify(shouted, method="REGISTER", lookup_ha1=alice, now=T0) == Ok("alice")


# --- Nonce lifetime, tampering, replay --------------------------------------------------------


def test_expired_nonce_is_stale_then_rechallenged() -> None:
    server = DigestAuthenticator(SIP_REALM, b"s3cret", nonce_lifetime=300.0)
    challenge = server.challenges(T0)[0]
    assert sip_register(server, challenge, now=T0 + 300.0) == Ok("alice")
    assert sip_register(server, challenge, nc=2, now=T0 + 300.5) == Stale("alice")
    fresh = server.challenges(T0 + 300.5, stale=True)[0]
    assert fresh.stale and "stale=TRUE" in str(fresh)
    assert parse_challenge(str(fresh)) == fresh
    assert sip_register(server, fresh, now=T0 + 301.0) == Ok("alice")


def test_expired_nonce_with_wrong_password_is_rejected_not_stale() -> None:
    server = DigestAuthenticator(SIP_REALM, b"s3cret")
    challenge = server.challenges(T0)[0]
    result = sip_register(server, challenge, password="guess", now=T0 + 3600)
    assert result == Rejected("wrong response")


def flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


@pytest.mark.parametrize("index", [0, 10, 30, 47])  # timestamp, random part, MAC
def test_tampered_nonce_rejected(index: int) -> None:
    server = DigestAuthenticator(SIP_REALM, b"s3cret")
    challenge = server.challenges(T0)[0]
    forged = dataclasses.replace(challenge, nonce=flip(challenge.nonce, index))
    assert sip_register(server, forged) == Rejected("nonce is not ours")


@pytest.mark.parametrize(
    "other",
    [
        DigestAuthenticator(SIP_REALM, b"other secret"),
        DigestAuthenticator("other.example.com", b"s3cret", opaque="same"),
    ],
    ids=["other-secret", "other-realm"],
)
def test_nonce_from_another_server_rejected(other: DigestAuthenticator) -> None:
    server = DigestAuthenticator(SIP_REALM, b"s3cret", opaque="same")
    foreign = dataclasses.replace(server.challenges(T0)[0], nonce=other.challenges(T0)[0].nonce)
    assert sip_register(server, foreign) == Rejected("nonce is not ours")


def test_nonce_shared_by_processes_with_the_same_secret() -> None:
    issuer = DigestAuthenticator(SIP_REALM, b"s3cret")
    checker = DigestAuthenticator(SIP_REALM, b"s3cret")
    assert sip_register(checker, issuer.challenges(T0)[0]) == Ok("alice")


def test_nonce_count_replay_rejected() -> None:
    server = DigestAuthenticator(SIP_REALM, b"s3cret")
    challenge = server.challenges(T0)[0]
    assert sip_register(server, challenge, nc=1) == Ok("alice")
    assert sip_register(server, challenge, nc=1) == Rejected("nonce-count replayed")
    assert sip_register(server, challenge, nc=3) == Ok("alice")
    assert sip_register(server, challenge, nc=2) == Rejected("nonce-count replayed")


def test_replay_protection_is_per_process() -> None:
    """Documented bound: another process only refuses the replay once the nonce expires."""
    first = DigestAuthenticator(SIP_REALM, b"s3cret")
    second = DigestAuthenticator(SIP_REALM, b"s3cret")
    challenge = first.challenges(T0)[0]
    assert sip_register(first, challenge) == Ok("alice")
    assert sip_register(second, challenge) == Ok("alice")
    assert sip_register(second, challenge, now=T0 + 301) == Stale("alice")


def test_failed_attempt_does_not_advance_nonce_count() -> None:
    server = DigestAuthenticator(SIP_REALM, b"s3cret")
    challenge = server.challenges(T0)[0]
    assert sip_register(server, challenge, nc=5, password="guess") == Rejected("wrong response")
    assert sip_register(server, challenge, nc=1) == Ok("alice")


def test_nonce_count_cache_is_bounded_lru() -> None:
    cache = NonceCountCache(capacity=2)
    assert cache.advance("a", 1) and cache.advance("b", 1)
    assert cache.advance("a", 2)  # "a" is now most recent
    assert cache.advance("c", 1)  # evicts "b"
    assert not cache.advance("a", 2)
    assert cache.advance("b", 1)  # forgotten: the lifetime bound applies
    assert not cache.advance("z", 0)  # nc starts at 1


def test_hmac_nonces_lifetime_and_format() -> None:
    nonces = HmacNonces(b"k", SIP_REALM, lifetime=10.0, entropy=lambda n: b"\x00" * n)
    nonce = nonces.issue(T0)
    assert len(nonce) == 48 and nonce == nonces.issue(T0)  # deterministic with fixed entropy
    assert nonces.check(nonce, T0 + 10.0) is NonceStatus.VALID
    assert nonces.check(nonce, T0 + 10.001) is NonceStatus.STALE
    assert nonces.check(nonce, T0 - 11.0) is NonceStatus.STALE  # clock skew between processes
    assert nonces.check(nonce + "A", T0) is NonceStatus.INVALID
    assert nonces.check("!" * 48, T0) is NonceStatus.INVALID
    assert nonces.check("", T0) is NonceStatus.INVALID


# --- RFC 2069 compatibility (no qop) ----------------------------------------------------------


def test_rfc2069_round_trip_without_qop() -> None:
    server = DigestAuthenticator(SIP_REALM, b"s3cret", algorithms=("MD5",), qop=None)
    (challenge,) = server.challenges(T0)
    assert challenge.qop == () and "qop" not in str(challenge)
    credentials = answer_challenge(
        challenge, username="alice", password="wonderland", method="REGISTER", uri=SIP_URI
    )
    assert (credentials.qop, credentials.nc, credentials.cnonce) == (None, None, None)
    assert "nc=" not in str(credentials) and "cnonce" not in str(credentials)
    assert sip_register(server, challenge) == Ok("alice")
    assert sip_register(server, challenge) == Ok("alice")  # no nc: lifetime bounds replay


def test_rfc2069_response_matches_the_rfc2069_formula() -> None:
    credentials = parse_credentials(RFC2617_AUTHORIZATION)
    old_style = dataclasses.replace(credentials, qop=None, nc=None, cnonce=None)

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    key = ha1("Mufasa", "testrealm@host.com", "Circle Of Life", "MD5")
    expected = md5(f"{key}:dcd98b7102dd2f0e8b11d0f600bfb0c093:{md5('GET:/dir/index.html')}")
    assert compute_response(old_style, ha1=key, method="GET") == expected


def test_rfc2069_refused_when_disabled() -> None:
    server = DigestAuthenticator(SIP_REALM, b"s3cret", allow_rfc2069=False)
    challenge = dataclasses.replace(server.challenges(T0)[0], qop=())
    assert sip_register(server, challenge) == Rejected("qop is required with SHA-256")


# --- Rejections that need no hashing ----------------------------------------------------------


def good_credentials(server: DigestAuthenticator) -> Credentials:
    return answer_challenge(
        server.challenges(T0)[0],
        username="alice",
        password="wonderland",
        method="REGISTER",
        uri=SIP_URI,
        cnonce="c",
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"realm": "evil.example.com"}, "realm 'evil.example.com' is not 'hotline.example.com'"),
        ({"algorithm": "SHA-512-256"}, "algorithm 'SHA-512-256' not offered"),
        ({"algorithm": "SHA-1"}, "algorithm 'SHA-1' not offered"),
        ({"algorithm": None}, "algorithm 'MD5' not offered"),
        ({"qop": "auth-int"}, "qop 'auth-int' not supported"),
        ({"cnonce": None}, "qop=auth requires cnonce and nc"),
        ({"nc": None}, "qop=auth requires cnonce and nc"),
        ({"opaque": "forged"}, "opaque does not match"),
    ],
)
def test_precheck_rejections(change: dict[str, object], reason: str) -> None:
    server = DigestAuthenticator(SIP_REALM, b"s3cret", algorithms=("SHA-256",))
    credentials = dataclasses.replace(good_credentials(server), **change)  # type: ignore[arg-type]
    assert server.verify(credentials, method="REGISTER", lookup_ha1=alice, now=T0) == Rejected(
        reason
    )


def test_sess_without_qop_rejected() -> None:
    server = DigestAuthenticator(SIP_REALM, b"s3cret", algorithms=("MD5-sess",))
    credentials = dataclasses.replace(good_credentials(server), qop=None, nc=None)
    result = server.verify(credentials, method="REGISTER", lookup_ha1=alice, now=T0)
    assert result == Rejected("qop is required with MD5-sess")


def test_missing_opaque_tolerated() -> None:
    server = DigestAuthenticator(SIP_REALM, b"s3cret")
    credentials = dataclasses.replace(good_credentials(server), opaque=None)
    assert server.verify(credentials, method="REGISTER", lookup_ha1=alice, now=T0) == Ok("alice")


# --- Client edge cases ------------------------------------------------------------------------


def test_client_uses_auth_int_when_only_that_is_offered() -> None:
    challenge = Challenge(SIP_REALM, "n", algorithm="SHA-256", qop=("auth-int",))
    body = b"v=0\r\n"
    credentials = answer_challenge(
        challenge,
        username="alice",
        password="pw",
        method="INVITE",
        uri=SIP_URI,
        body=body,
        cnonce="c",
    )

    def h(data: bytes | str) -> str:
        return hashlib.sha256(data if isinstance(data, bytes) else data.encode()).hexdigest()

    ha2 = h(f"INVITE:{SIP_URI}:{h(body)}")
    expected = h(f"{h(f'alice:{SIP_REALM}:pw')}:n:00000001:c:auth-int:{ha2}")
    assert (credentials.qop, credentials.response) == ("auth-int", expected)


def test_client_generates_a_cnonce() -> None:
    challenge = Challenge(SIP_REALM, "n", qop=("auth",))
    first, second = (
        answer_challenge(challenge, username="a", password="p", method="REGISTER", uri=SIP_URI)
        for _ in range(2)
    )
    assert first.cnonce and second.cnonce and first.cnonce != second.cnonce


@pytest.mark.parametrize(
    ("challenge", "message"),
    [
        (Challenge("r", "n", algorithm="SHA-1"), "unsupported algorithm 'SHA-1'"),
        (Challenge("r", "n", qop=("auth-conf",)), "no supported qop in 'auth-conf'"),
        (Challenge("r", "n", algorithm="MD5-sess"), "challenge offers MD5-sess without qop"),
    ],
)
def test_client_refuses_unanswerable_challenges(challenge: Challenge, message: str) -> None:
    with pytest.raises(DigestError) as info:
        answer_challenge(challenge, username="a", password="p", method="REGISTER", uri=SIP_URI)
    assert str(info.value) == message


def test_usage_errors() -> None:
    with pytest.raises(DigestUsageError, match="unsupported algorithm 'SHA-1'"):
        DigestAuthenticator(SIP_REALM, b"s", algorithms=("SHA-1",))
    with pytest.raises(DigestUsageError, match="unsupported qop 'auth-int'"):
        DigestAuthenticator(SIP_REALM, b"s", qop="auth-int")
    with pytest.raises(DigestUsageError, match="nonce secret must not be empty"):
        DigestAuthenticator(SIP_REALM, b"")
    with pytest.raises(DigestUsageError, match="unsupported algorithm 'MD4'"):
        ha1("a", "r", "p", "MD4")


def test_ha1_helper() -> None:
    assert (
        ha1("Mufasa", RFC7616_REALM, "Circle of Life", "MD5")
        == hashlib.md5(b"Mufasa:http-auth@example.org:Circle of Life").hexdigest()
    )
    assert ha1("a", "r", "p", "SHA-256-sess") == ha1("a", "r", "p", "SHA-256")
    assert ha1("a", "r", "p") == hashlib.sha256(b"a:r:p").hexdigest()


# --- Grammar: valid vectors and their invalid twins -------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # RFC 3261 §20.44 example (stale=FALSE, opaque="" and a domain).
        (
            'Digest realm="atlanta.com", domain="sip:boxesbybob.com", qop="auth", '
            'nonce="f84f1cec41e6cbe5aea9c8e88d359", opaque="", stale=FALSE, algorithm=MD5',
            Challenge(
                "atlanta.com",
                "f84f1cec41e6cbe5aea9c8e88d359",
                algorithm="MD5",
                qop=("auth",),
                opaque="",
                domain="sip:boxesbybob.com",
            ),
        ),
        # Case-insensitive scheme, names and algorithm; LWS around '=' and ','; tabs.
        (
            'DIGEST REALM = "r" ,\tNonce=\t"n" , ALGORITHM = sha-256-SESS, Stale=true',
            Challenge("r", "n", algorithm="SHA-256-sess", stale=True),
        ),
        # Quoted-pair escapes and UTF-8 in a quoted-string; an unknown algorithm is kept.
        (
            r'Digest realm="a \"quoted\" \\ \réalm", nonce="n", algorithm=SHA-1',
            Challenge('a "quoted" \\ réalm', "n", algorithm="SHA-1"),
        ),
        # Token values, quoted stale (anything but true is false), extensions kept in order.
        (
            'Digest realm=r, nonce=n, stale="maybe", charset=UTF-8, userhash="true"',
            Challenge("r", "n", extra=(("charset", "UTF-8"), ("userhash", "true"))),
        ),
        # Folded LWS inside and around a quoted-string (RFC 3261 §7.3.1).
        (
            ' Digest\r\n realm="folded\r\n\tvalue",\r\n nonce="n"  ',
            Challenge("folded\tvalue", "n"),
        ),
    ],
)
def test_parse_challenge_vectors(value: str, expected: Challenge) -> None:
    challenge = parse_challenge(value)
    assert challenge == expected
    assert parse_challenge(str(challenge)) == challenge


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "expected auth scheme at offset 0"),
        ("Digest", "expected whitespace after auth scheme at offset 6"),
        ("Digest ", "expected parameter name at offset 7"),
        ('"Digest" realm="r"', "expected auth scheme at offset 0"),
        ("Digest realm", "expected '=' after parameter 'realm' at offset 12"),
        ("Digest realm=", "expected value for parameter 'realm' at offset 13"),
        ("Digest realm=@", "expected value for parameter 'realm' at offset 13"),
        ('Digest realm="abc', "malformed quoted-string for parameter 'realm' at offset 13"),
        ('Digest realm="a\x01"', "malformed quoted-string for parameter 'realm' at offset 13"),
        ('Digest realm="a\\\nb"', "malformed quoted-string for parameter 'realm' at offset 13"),
        ('Digest realm="\\é"', "malformed quoted-string for parameter 'realm' at offset 13"),
        ('Digest realm="a\r\nb"', "malformed quoted-string for parameter 'realm' at offset 13"),
        ('Digest realm="a" nonce="n"', "expected ',' or end of value at offset 17"),
        ("Digest realm=a b", "expected ',' or end of value at offset 15"),
        ('Digest realm="r",', "expected parameter name at offset 17"),
        ('Digest realm="r",,nonce="n"', "expected parameter name at offset 17"),
        ('Digest realm="r"\r\n', "expected ',' or end of value at offset 16"),
        ('Digest realm="r", Realm="s", nonce="n"', "duplicate parameter 'realm'"),
        ('Basic realm="WallyWorld"', "unsupported auth scheme 'Basic'"),
        ('Digest nonce="n"', "missing parameter 'realm'"),
        ('Digest realm="r"', "missing parameter 'nonce'"),
        ('Digest realm="r", nonce="n", algorithm="MD 5"', "invalid algorithm value 'MD 5'"),
        ('Digest realm="r", nonce="n", qop="auth,,auth-int"', "invalid qop value 'auth,,auth-int'"),
        ('Digest realm="r", nonce="n", qop=""', "invalid qop value ''"),
    ],
)
def test_parse_challenge_invalid_twins(value: str, message: str) -> None:
    with pytest.raises(DigestError) as info:
        parse_challenge(value)
    assert str(info.value) == message
    assert info.value.status_hint == 400


CREDENTIALS = (
    'Digest username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", '
    'uri="sip:bob@biloxi.com", qop=auth, nc=0000000a, cnonce="0a4f113b", '
    'response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)


def test_parse_credentials_sip_example() -> None:
    """RFC 3261 §20.7 Authorization example, with RFC 7616's qop parameters added."""
    credentials = parse_credentials(CREDENTIALS)
    assert credentials == Credentials(
        username="bob",
        realm="biloxi.com",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        uri="sip:bob@biloxi.com",
        response="6629fae49393a05397450978507c4ef1",
        qop="auth",
        nc=10,
        cnonce="0a4f113b",
        opaque="5ccc069c403ebaf9f0171e9517f40e41",
    )
    assert parse_credentials(str(credentials)) == credentials


def test_parse_credentials_accepts_quoted_token_values() -> None:
    """Old clients quote algorithm, qop and nc; we accept that but never send it (RFC 7616 §3.4)."""
    quoted = CREDENTIALS.replace("qop=auth", 'qop="auth"').replace("nc=0000000a", 'nc="0000000a"')
    credentials = parse_credentials(quoted + ', algorithm="md5"')
    assert (credentials.qop, credentials.nc, credentials.algorithm) == ("auth", 10, "MD5")
    assert "qop=auth, " in str(credentials) and "algorithm=MD5," in str(credentials)


@pytest.mark.parametrize(
    ("replace", "message"),
    [
        (("nc=0000000a", "nc=a"), "invalid nc value 'a' (expected 8 lowercase hex digits)"),
        (
            ("nc=0000000a", "nc=0000000A"),
            "invalid nc value '0000000A' (expected 8 lowercase hex digits)",
        ),
        (("qop=auth", 'qop="auth, auth-int"'), "invalid qop value 'auth, auth-int'"),
        ((', response="6629fae49393a05397450978507c4ef1"', ""), "missing parameter 'response'"),
        (('username="bob", ', ""), "missing parameter 'username'"),
        (('uri="sip:bob@biloxi.com", ', ""), "missing parameter 'uri'"),
        (("cnonce=", 'CNonce="x", cnonce='), "duplicate parameter 'cnonce'"),
        (("Digest ", "Digest , "), "expected parameter name at offset 7"),
        (("Digest ", "Digest,"), "expected whitespace after auth scheme at offset 6"),
    ],
)
def test_parse_credentials_invalid_twins(replace: tuple[str, str], message: str) -> None:
    with pytest.raises(DigestError) as info:
        parse_credentials(CREDENTIALS.replace(*replace))
    assert str(info.value) == message


def test_serialization_escapes_and_refuses_header_injection() -> None:
    challenge = Challenge('say "hi" \\ \x00', "n")
    assert str(challenge) == 'Digest realm="say \\"hi\\" \\\\ \\\x00", nonce="n"'
    assert parse_challenge(str(challenge)) == challenge
    with pytest.raises(DigestUsageError, match="parameter 'realm' contains CR or LF"):
        str(Challenge("r\r\nVia: evil", "n"))
    with pytest.raises(DigestUsageError, match="parameter 'algorithm' must be a token"):
        str(Challenge("r", "n", algorithm="MD5, evil"))
    with pytest.raises(DigestUsageError, match="nc 4294967296 does not fit 8 hex digits"):
        str(Credentials("u", "r", "n", "sip:x", "00", qop="auth", nc=2**32, cnonce="c"))


# --- Fuzz: parse, or raise DigestError -- nothing else ----------------------------------------

_REQUIRED = ("realm", "nonce", "username", "uri", "response")
_OPTIONAL = st.sampled_from(
    ["algorithm", "qop", "nc", "cnonce", "opaque", "stale", "domain", "userhash", "x-y", "REALM"]
)
_VALUES = st.one_of(
    st.from_regex(r"[A-Za-z0-9\-.!%*_+`'~]{1,12}", fullmatch=True),
    st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=12).map(
        lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    ),
    st.text(max_size=8).map(lambda s: '"' + s + '"'),
    st.sampled_from(['"auth"', "auth", "00000001", "SHA-256", "MD5-sess", '"a\\"b"', "TRUE"]),
)
_EQUALS = st.sampled_from(["=", " = ", "\t=", "=\r\n "])
_COMMAS = st.sampled_from([", ", ",", " , ", ",\r\n\t"])


@st.composite
def _header_values(draw: st.DrawFn) -> str:
    """Mostly well-formed Digest values, then perhaps one character replaced or deleted."""
    names = list(_REQUIRED) + draw(st.lists(_OPTIONAL, max_size=5))
    names = draw(st.permutations(names))[: len(names) - draw(st.integers(0, 1))]
    params = [f"{name}{draw(_EQUALS)}{draw(_VALUES)}" for name in names]
    text = draw(st.sampled_from(["Digest", "digest", "Basic"])) + " "
    text += "".join(param + draw(_COMMAS) for param in params[:-1]) + "".join(params[-1:])
    if draw(st.booleans()):
        at = draw(st.integers(0, len(text)))
        text = (
            text[:at]
            + draw(st.sampled_from(["", '"', "\\", ",", "=", " ", "\r\n"]))
            + text[at + 1 :]
        )
    return text


_INPUTS = st.one_of(st.text(), _header_values())


@given(_INPUTS)
def test_fuzz_parse_challenge(value: str) -> None:
    try:
        challenge = parse_challenge(value)
    except DigestError:
        return
    assert parse_challenge(str(challenge)) == challenge


@given(_INPUTS)
def test_fuzz_parse_credentials(value: str) -> None:
    try:
        credentials = parse_credentials(value)
    except DigestError:
        return
    assert parse_credentials(str(credentials)) == credentials
