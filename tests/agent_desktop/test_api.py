"""The /api/v1 REST API against a real PostgreSQL: login, tokens, roles, call records."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from agent_desktop.api import API, add_api
from hotline.config import Config
from hotline.health import Health
from hotline.http import create_app
from hotline.store import Store, open_store

Client = TestClient[Any, Any]

ACCOUNTS = {  # username: (password, role)
    "sue": ("sue-secret", "supervisor"),
    "ada": ("ada-secret", "admin"),
    "al": ("al-secret", "agent"),
}
T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
async def accounts(store: Store) -> None:
    for username, (password, role) in ACCOUNTS.items():
        await store.users.add_user(username, password, role)


@pytest.fixture
async def client(store: Store, accounts: None) -> AsyncIterator[Client]:
    """A client of the process's whole web app, as ``hotline.http.create_app`` builds it."""
    async with TestClient(TestServer(create_app(Health(store, None), store))) as test_client:
        yield test_client


async def login(client: Client, username: str) -> str:
    """Log in with the account's password; returns the token."""
    body = {"username": username, "password": ACCOUNTS[username][0]}
    response = await client.post("/api/v1/login", json=body)
    assert response.status == 200, await response.text()
    token: str = (await response.json())["token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def get_json(client: Client, path: str, token: str | None) -> tuple[int, dict[str, Any], Any]:
    """GET ``path`` with ``token``; returns the status, the headers and the JSON body."""
    response = await client.get(path, headers=bearer(token) if token else {})
    assert response.content_type == "application/json", await response.text()
    return response.status, dict(response.headers), await response.json()


async def add_call(store: Store, n: int, started_at: datetime) -> int:
    return await store.calls.create(
        f"call-{n}@trunk", f"sip:+49{n}@trunk", "sip:hotline@pbx", f"Caller {n}", started_at
    )


# -- login --------------------------------------------------------------------------------


async def test_login_returns_token_role_and_expiry(client: Client) -> None:
    before = datetime.now(UTC)
    response = await client.post(
        "/api/v1/login", json={"username": "sue", "password": "sue-secret"}
    )
    assert response.status == 200
    body = await response.json()
    assert set(body) == {"token", "token_type", "username", "role", "expires_at"}
    assert (body["username"], body["role"], body["token_type"]) == ("sue", "supervisor", "Bearer")
    assert len(body["token"]) >= 43
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert expires_at.tzinfo is not None
    assert timedelta(hours=12) <= expires_at - before < timedelta(hours=12, minutes=1)


async def test_each_login_gets_its_own_token(client: Client) -> None:
    assert await login(client, "sue") != await login(client, "sue")


@pytest.mark.parametrize(
    ("username", "password"), [("sue", "wrong"), ("nobody", "sue-secret"), ("SUE", "sue-secret")]
)
async def test_bad_credentials_are_401(client: Client, username: str, password: str) -> None:
    response = await client.post("/api/v1/login", json={"username": username, "password": password})
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert await response.json() == {"error": "wrong username or password", "detail": None}


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"username": "sue"}, "'password'"),
        ({"password": "sue-secret"}, "'username'"),
        ({}, "'username' and 'password'"),
        ({"username": 7, "password": "x"}, "'username' must be a non-empty string"),
        ({"username": "sue", "password": ""}, "'password' must be a non-empty string"),
        ({"username": "sue", "password": "x" * 2000}, "'password' must be a non-empty string"),
        (["sue", "sue-secret"], "must be a JSON object, not list"),
    ],
)
async def test_bad_login_body_is_400_naming_the_problem(
    client: Client, body: Any, named: str
) -> None:
    response = await client.post("/api/v1/login", json=body)
    assert response.status == 400
    assert named in (await response.json())["error"]


@pytest.mark.parametrize(
    ("data", "named"),
    [(b"{username: sue", "not valid JSON"), (b"", "body is empty"), (b"\xff\xfe\xff", "JSON")],
)
async def test_unparsable_login_body_is_400(client: Client, data: bytes, named: str) -> None:
    response = await client.post(
        "/api/v1/login", data=data, headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    body = await response.json()
    assert named in body["error"] and "detail" in body


async def test_repeated_failures_are_throttled_per_username(client: Client) -> None:
    bad = {"username": "sue", "password": "guess"}
    for _ in range(10):
        assert (await client.post("/api/v1/login", json=bad)).status == 401
    # Blocked now, even with the right password; the answer says how long to wait.
    good = {"username": "sue", "password": "sue-secret"}
    response = await client.post("/api/v1/login", json=good)
    assert response.status == 429
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 300
    body = await response.json()
    assert "too many failed logins" in body["error"]
    assert body["detail"] == {"retry_after": retry_after}
    # Another account from the same address is not affected.
    assert (
        await client.post("/api/v1/login", json={"username": "ada", "password": "ada-secret"})
    ).status == 200


async def test_a_successful_login_resets_the_failure_count(client: Client) -> None:
    bad = {"username": "sue", "password": "guess"}
    for _ in range(9):
        assert (await client.post("/api/v1/login", json=bad)).status == 401
    await login(client, "sue")
    for _ in range(9):
        assert (await client.post("/api/v1/login", json=bad)).status == 401
    await login(client, "sue")


# -- tokens ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic c3VlOnN1ZS1zZWNyZXQ="}, {"Authorization": "Bearer "}],
)
async def test_token_required(client: Client, headers: dict[str, str]) -> None:
    response = await client.get("/api/v1/calls", headers=headers)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "Authorization: Bearer" in (await response.json())["error"]


async def test_unknown_token_is_401(client: Client) -> None:
    status, headers, body = await get_json(client, "/api/v1/calls", "not-a-token")
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert "not valid" in body["error"]


async def test_expired_token_is_401(client: Client, store: Store) -> None:
    token = await login(client, "sue")
    assert (await get_json(client, "/api/v1/calls", token))[0] == 200
    await store.pool.execute("UPDATE api_tokens SET expires_at = now() - interval '1 second'")
    status, headers, body = await get_json(client, "/api/v1/calls", token)
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert "expired" in body["error"]


async def test_token_expires_after_12_hours(store: Store, accounts: None) -> None:
    app = web.Application()
    state = add_api(app, store)[API]
    async with TestClient(TestServer(app)) as client:
        token = await login(client, "sue")
        now = datetime.now(UTC)
        state.clock = lambda: now + timedelta(hours=11, minutes=59)
        assert (await get_json(client, "/api/v1/calls", token))[0] == 200
        state.clock = lambda: now + timedelta(hours=12, minutes=1)
        assert (await get_json(client, "/api/v1/calls", token))[0] == 401


async def test_only_the_token_hash_is_stored(client: Client, store: Store) -> None:
    token = await login(client, "sue")
    rows = await store.pool.fetch(
        "SELECT token_hash, username, created_at, expires_at FROM api_tokens"
    )
    assert [(r["token_hash"], r["username"]) for r in rows] == [
        (hashlib.sha256(token.encode()).hexdigest(), "sue")
    ]
    assert rows[0]["expires_at"] - rows[0]["created_at"] == timedelta(hours=12)


async def test_login_deletes_expired_tokens(client: Client, store: Store) -> None:
    old = await login(client, "sue")
    await store.pool.execute("UPDATE api_tokens SET expires_at = now() - interval '1 second'")
    await login(client, "ada")
    assert await store.tokens.lookup(old) is None
    assert await store.pool.fetchval("SELECT count(*) FROM api_tokens") == 1


async def test_logout_revokes_the_token(client: Client) -> None:
    token, other = await login(client, "sue"), await login(client, "sue")
    response = await client.post("/api/v1/logout", headers=bearer(token))
    assert (response.status, await response.json()) == (200, {"revoked": True})
    assert (await get_json(client, "/api/v1/calls", token))[0] == 401
    assert (await client.post("/api/v1/logout", headers=bearer(token))).status == 401
    assert (await get_json(client, "/api/v1/calls", other))[0] == 200  # other sessions live on


async def test_logout_needs_a_token(client: Client) -> None:
    assert (await client.post("/api/v1/logout")).status == 401


async def test_tokens_work_across_processes_sharing_the_database(
    client: Client, config: Config
) -> None:
    second_store = await open_store(config)
    try:
        second_app = create_app(Health(second_store, None), second_store)
        async with TestClient(TestServer(second_app)) as second:
            token = await login(client, "sue")
            assert (await get_json(second, "/api/v1/calls", token))[0] == 200
            assert (await second.post("/api/v1/logout", headers=bearer(token))).status == 200
            assert (await get_json(client, "/api/v1/calls", token))[0] == 401
    finally:
        await second_store.close()


async def test_agent_role_is_403_admin_is_allowed(client: Client, store: Store) -> None:
    call = await add_call(store, 1, T0)
    agent = await login(client, "al")
    for path in ("/api/v1/calls", f"/api/v1/calls/{call}"):
        status, _, body = await get_json(client, path, agent)
        assert status == 403
        assert body["detail"] == {"role": "agent", "allowed_roles": ["supervisor", "admin"]}
    admin = await login(client, "ada")
    assert (await get_json(client, f"/api/v1/calls/{call}", admin))[0] == 200
    assert (await client.post("/api/v1/logout", headers=bearer(agent))).status == 200


async def test_role_change_applies_to_existing_tokens(client: Client, store: Store) -> None:
    token = await login(client, "sue")
    await store.users.add_user("sue", "sue-secret", "agent")
    assert (await get_json(client, "/api/v1/calls", token))[0] == 403


# -- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize("with_token", [False, True])
async def test_unknown_route_is_404_json(client: Client, with_token: bool) -> None:
    token = await login(client, "sue") if with_token else None
    status, _, body = await get_json(client, "/api/v1/no/such/thing", token)
    assert (status, body) == (
        404,
        {"error": "no such API route: /api/v1/no/such/thing", "detail": None},
    )


async def test_wrong_method_is_405_json(client: Client) -> None:
    status, headers, body = await get_json(client, "/api/v1/login", None)
    assert status == 405
    assert headers["Allow"] == "POST"
    assert body["error"] == "method GET is not allowed on /api/v1/login"


async def test_health_and_index_are_unaffected(client: Client) -> None:
    assert (await client.get("/")).status == 200
    assert (await client.get("/healthz")).content_type == "application/json"


# -- call records -------------------------------------------------------------------------


async def test_call_record_shape(client: Client, store: Store) -> None:
    call = await add_call(store, 1, T0)
    await store.calls.mark_answered(call, T0 + timedelta(seconds=4))
    await store.calls.merge_quality(call, {"mos": 4.3, "loss": 0.0})
    await store.calls.end(call, T0 + timedelta(seconds=65, milliseconds=250), "caller hung up")
    status, _, body = await get_json(client, f"/api/v1/calls/{call}", await login(client, "sue"))
    assert status == 200
    assert body == {
        "id": call,
        "call_id": "call-1@trunk",
        "from": "sip:+491@trunk",
        "to": "sip:hotline@pbx",
        "from_display": "Caller 1",
        "direction": "inbound",
        "state": "ended",
        "started_at": "2026-03-01T09:30:00+00:00",
        "answered_at": "2026-03-01T09:30:04+00:00",
        "ended_at": "2026-03-01T09:31:05.250000+00:00",
        "end_reason": "caller hung up",
        "duration_s": 61.25,
        "quality": {"mos": 4.3, "loss": 0.0},
        "events": [],
        "node": None,
    }


async def test_unanswered_call_has_null_times_and_duration(client: Client, store: Store) -> None:
    call = await add_call(store, 1, T0)
    await store.calls.end(call, T0 + timedelta(seconds=9), "caller abandoned")
    body = (await get_json(client, f"/api/v1/calls/{call}", await login(client, "sue")))[2]
    assert (body["answered_at"], body["duration_s"]) == (None, None)
    assert body["ended_at"] == "2026-03-01T09:30:09+00:00"


async def test_events_are_returned_in_stored_order(client: Client, store: Store) -> None:
    call = await add_call(store, 1, T0)
    steps: list[tuple[str, dict[str, Any]]] = [
        ("invite", {"from": "sip:+491@trunk"}),
        ("ivr_prompt", {"prompt": "welcome"}),
        ("dtmf", {"digit": "2"}),
        ("dtmf", {"digit": "#"}),
        ("enqueued", {"queue": "returns", "position": 3}),
        ("bye", {"by": "caller"}),
    ]
    events = [
        {"t": (T0 + timedelta(seconds=i)).isoformat(), "type": kind, **extra}
        for i, (kind, extra) in enumerate(steps)
    ]
    for event in events:
        await store.calls.append_event(call, event)
    body = (await get_json(client, f"/api/v1/calls/{call}", await login(client, "sue")))[2]
    assert body["events"] == events


async def test_missing_call_is_404(client: Client) -> None:
    status, _, body = await get_json(client, "/api/v1/calls/424242", await login(client, "sue"))
    assert (status, body) == (404, {"error": "no call with id 424242", "detail": {"id": 424242}})


@pytest.mark.parametrize("bad", ["abc", "1.5", "-3", "0", "+7", "99999999999999999999", "%20 1"])
async def test_bad_call_id_is_400(client: Client, bad: str) -> None:
    status, _, body = await get_json(client, f"/api/v1/calls/{bad}", await login(client, "sue"))
    assert status == 400
    assert body["error"].startswith("call id must be a positive integer")
    assert body["detail"]["parameter"] == "call id"


async def test_list_is_newest_first_with_default_limit(client: Client, store: Store) -> None:
    ids = [await add_call(store, n, T0 + timedelta(minutes=n)) for n in range(3)]
    tie = await add_call(store, 9, T0 + timedelta(minutes=2))  # same start: higher id first
    status, _, body = await get_json(client, "/api/v1/calls", await login(client, "sue"))
    assert status == 200
    assert [c["id"] for c in body["calls"]] == [tie, ids[2], ids[1], ids[0]]
    assert (body["limit"], body["next_before_id"]) == (50, None)
    assert body["calls"][0]["call_id"] == "call-9@trunk"


async def test_list_limit_and_paging(client: Client, store: Store) -> None:
    ids = [await add_call(store, n, T0 + timedelta(minutes=n)) for n in range(5)]
    newest_first = ids[::-1]
    token = await login(client, "sue")
    pages, path = [], "/api/v1/calls?limit=2"
    while True:
        status, _, body = await get_json(client, path, token)
        assert status == 200
        pages.append([c["id"] for c in body["calls"]])
        if body["next_before_id"] is None:
            break
        path = f"/api/v1/calls?limit=2&before_id={body['next_before_id']}"
    assert pages == [newest_first[:2], newest_first[2:4], newest_first[4:]]
    # A page of exactly `limit` calls says there may be more; the next one is then empty.
    body = (await get_json(client, f"/api/v1/calls?limit=1&before_id={ids[1]}", token))[2]
    assert ([c["id"] for c in body["calls"]], body["next_before_id"]) == ([ids[0]], ids[0])
    body = (await get_json(client, f"/api/v1/calls?before_id={ids[0]}", token))[2]
    assert (body["calls"], body["next_before_id"]) == ([], None)


async def test_list_limit_max_is_500(client: Client, store: Store) -> None:
    token = await login(client, "sue")
    status, _, body = await get_json(client, "/api/v1/calls?limit=500", token)
    assert (status, body["limit"]) == (200, 500)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=abc", "limit must be an integer from 1 to 500, got 'abc'"),
        ("limit=0", "limit must be an integer from 1 to 500, got '0'"),
        ("limit=501", "limit must be an integer from 1 to 500, got '501'"),
        ("limit=", "limit must be an integer from 1 to 500, got ''"),
        ("limit=-1", "limit must be an integer from 1 to 500, got '-1'"),
        ("limit=1&limit=2", "limit is given 2 times; give it once"),
        ("before_id=x", "before_id must be a positive integer, got 'x'"),
        ("before_id=77", "before_id 77 is not the id of a call"),
    ],
)
async def test_bad_list_parameters_are_400(client: Client, query: str, message: str) -> None:
    status, _, body = await get_json(client, f"/api/v1/calls?{query}", await login(client, "sue"))
    assert (status, body["error"]) == (400, message)
    assert body["detail"]["parameter"] == query.split("=")[0]
