"""The REST API under ``/api/v1``: login/logout with bearer tokens, call records for supervisors.

Routes (JSON in and out; errors are ``{"error": message, "detail": data-or-null}``):

- ``POST /api/v1/login`` ``{"username", "password"}`` -> ``{"token", "token_type", "username",
  "role", "expires_at"}``; 400 bad body, 401 wrong credentials, 429 too many failures.
- ``POST /api/v1/logout`` -> ``{"revoked": true}``; the token stops working everywhere.
- ``GET /api/v1/calls?limit=N&before_id=ID`` -> ``{"calls": [...], "limit", "next_before_id"}``,
  newest first; pass ``next_before_id`` back as ``before_id`` for the next page.
- ``GET /api/v1/calls/{id}`` -> one call record.

All but the login need ``Authorization: Bearer <token>``; call records need the supervisor or
admin role. The app is mounted as an aiohttp sub-application, so its middlewares (JSON
errors, authentication) apply to ``/api/v1`` only.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from agent_desktop.auth import PRINCIPAL, Clock, auth_middleware, require_role
from agent_desktop.errors import ApiError, bad_request, error_middleware
from agent_desktop.throttle import LoginThrottle
from hotline.store import CallRecord, Store

API_PREFIX = "/api/v1"
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_ID = 2**63 - 1  # ids are PostgreSQL bigint
MAX_USERNAME = 256
MAX_PASSWORD = 1024
CALL_READERS = ("supervisor", "admin")

_DIGITS = re.compile(r"[0-9]{1,19}")


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ApiState:
    """What the API handlers share: the store, the login throttle and the clocks."""

    store: Store
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    clock: Clock = _utc_now  # wall clock for token times
    monotonic: Callable[[], float] = time.monotonic  # for the throttle's windows


API = web.AppKey("api", ApiState)
routes = web.RouteTableDef()


def add_api(
    app: web.Application,
    store: Store,
    *,
    throttle: LoginThrottle | None = None,
    extensions: Iterable[Callable[[web.Application], None]] = (),
) -> web.Application:
    """Mount the API on ``app`` at ``/api/v1``; returns the API sub-application.

    Each of ``extensions`` adds its routes (and state) to the API sub-application before
    it is mounted: a mounted application's router is frozen.
    """
    state = ApiState(store, LoginThrottle() if throttle is None else throttle)
    api = web.Application(
        middlewares=[
            error_middleware,
            auth_middleware(store.tokens, lambda: state.clock(), public={login}),
        ]
    )
    api[API] = state
    api.add_routes(routes)
    for extend in extensions:
        extend(api)
    app.add_subapp(API_PREFIX, api)
    return api


# -- login and logout -------------------------------------------------------------------


@routes.post("/login")
async def login(request: web.Request) -> web.Response:
    """Check the password and issue a token (see the module docstring for the shapes)."""
    state = request.app[API]
    username, password = _credentials(await _json_object(request))
    key = (username, request.remote or "")
    wait = state.throttle.retry_after(key, state.monotonic())
    if wait is not None:
        raise ApiError(
            429,
            f"too many failed logins for {username!r} from this address; retry in {wait} s",
            {"retry_after": wait},
            {"Retry-After": str(wait)},
        )
    # Counted as a failure before the (slow) check, so parallel guesses cannot slip past
    # the limit; the success below clears it.
    state.throttle.failed(key, state.monotonic())
    user = await state.store.users.authenticate(username, password)
    if user is None:
        raise ApiError(401, "wrong username or password", headers={"WWW-Authenticate": "Bearer"})
    state.throttle.succeeded(key)
    issued = await state.store.tokens.issue(user.username, user.role, state.clock())
    return web.json_response(
        {
            "token": issued.token,
            "token_type": "Bearer",
            "username": issued.username,
            "role": issued.role,
            "expires_at": issued.expires_at.isoformat(),
        }
    )


@routes.post("/logout")
async def logout(request: web.Request) -> web.Response:
    """Revoke the token this request carries."""
    await request.app[API].store.tokens.revoke(request[PRINCIPAL].token_hash)
    return web.json_response({"revoked": True})


async def _json_object(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        raise bad_request("the request body is empty; send a JSON object")
    try:
        body = json.loads(raw)
    except ValueError as exc:  # JSONDecodeError, or bytes that are not UTF-8/16/32
        raise bad_request(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise bad_request(f"the request body must be a JSON object, not {type(body).__name__}")
    return body


def _credentials(body: dict[str, Any]) -> tuple[str, str]:
    missing = [name for name in ("username", "password") if name not in body]
    if missing:
        names = " and ".join(repr(name) for name in missing)
        raise bad_request(f"the JSON body lacks {names}", missing=missing)
    return (
        _string_field(body, "username", MAX_USERNAME),
        _string_field(body, "password", MAX_PASSWORD),
    )


def _string_field(body: dict[str, Any], name: str, max_length: int) -> str:
    value = body[name]
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise bad_request(
            f"{name!r} must be a non-empty string of at most {max_length} characters",
            field=name,
        )
    return value


# -- call records -----------------------------------------------------------------------


@routes.get("/calls")
@require_role(*CALL_READERS)
async def list_calls(request: web.Request) -> web.Response:
    """A page of call records, newest first."""
    limit = _query_int(request.query, "limit", MAX_LIMIT) or DEFAULT_LIMIT
    before_id = _query_int(request.query, "before_id", MAX_ID)
    calls = request.app[API].store.calls
    records = await calls.recent(limit, before_id=before_id)
    if not records and before_id is not None and await calls.get(before_id) is None:
        raise bad_request(
            f"before_id {before_id} is not the id of a call", parameter="before_id", value=before_id
        )
    next_before_id = records[-1].id if len(records) == limit else None
    return web.json_response(
        {
            "calls": [call_json(record) for record in records],
            "limit": limit,
            "next_before_id": next_before_id,
        }
    )


@routes.get("/calls/{id}")
@require_role(*CALL_READERS)
async def get_call(request: web.Request) -> web.Response:
    """One call record by id."""
    raw = request.match_info["id"]
    call_id = _parse_int(raw, "call id", MAX_ID)
    record = await request.app[API].store.calls.get(call_id)
    if record is None:
        raise ApiError(404, f"no call with id {call_id}", {"id": call_id})
    return web.json_response(call_json(record))


def call_json(record: CallRecord) -> dict[str, Any]:
    """The API's JSON form of a call record (times in ISO 8601 with offset, or null)."""
    duration = None
    if record.answered_at is not None and record.ended_at is not None:
        duration = round((record.ended_at - record.answered_at).total_seconds(), 3)
    return {
        "id": record.id,
        "call_id": record.call_id,
        "from": record.from_uri,
        "to": record.to_uri,
        "from_display": record.from_display,
        "direction": record.direction,
        "state": record.state,
        "started_at": _iso(record.started_at),
        "answered_at": _iso(record.answered_at),
        "ended_at": _iso(record.ended_at),
        "end_reason": record.end_reason,
        "duration_s": duration,
        "quality": record.quality,
        "events": record.events,
        "node": record.node,
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _query_int(query: MultiMapping[str], name: str, maximum: int) -> int | None:
    values = query.getall(name, [])
    if len(values) > 1:
        raise bad_request(f"{name} is given {len(values)} times; give it once", parameter=name)
    return None if not values else _parse_int(values[0], name, maximum)


def _parse_int(raw: str, name: str, maximum: int) -> int:
    if _DIGITS.fullmatch(raw) and 1 <= int(raw) <= maximum:
        return int(raw)
    expected = "a positive integer" if maximum == MAX_ID else f"an integer from 1 to {maximum}"
    raise bad_request(f"{name} must be {expected}, got {raw!r}", parameter=name, value=raw)
