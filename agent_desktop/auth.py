"""Bearer-token authentication (RFC 6750) and role checks for the REST API.

Every API route needs ``Authorization: Bearer <token>`` unless it is listed as public (the
login). Missing, unknown, revoked or expired tokens get 401 with a ``WWW-Authenticate:
Bearer`` challenge; `require_role` then answers 403 to accounts whose role may not use a
route. Tokens are checked against the database on every request, so a logout or an expiry
takes effect at once in every process sharing it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection
from datetime import datetime

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from agent_desktop.errors import ApiError
from hotline.store.tokens import TokenInfo, TokenStore

PRINCIPAL = web.RequestKey("principal", TokenInfo)

# RFC 6750 section 2.1: credentials = "Bearer" 1*SP b64token
_BEARER = re.compile(r"Bearer +(?P<token>[A-Za-z0-9\-._~+/]+=*)", re.IGNORECASE)

Clock = Callable[[], datetime]


def bearer_token(request: web.Request) -> str | None:
    """The token of the request's ``Authorization: Bearer`` header, or None."""
    match = _BEARER.fullmatch(request.headers.get("Authorization", "").strip())
    return None if match is None else match["token"]


def unauthorized(message: str, error: str | None = None) -> ApiError:
    """A 401 with the RFC 6750 challenge; ``error`` is its error code (``invalid_token``)."""
    challenge = "Bearer" if error is None else f'Bearer error="{error}"'
    return ApiError(401, message, headers={"WWW-Authenticate": challenge})


def auth_middleware(tokens: TokenStore, clock: Clock, public: Collection[Handler]) -> Middleware:
    """Authenticate every request to a route whose handler is not in ``public``.

    The account behind the token is stored in ``request[PRINCIPAL]``. Requests for unknown
    routes pass through untouched, so they get their 404 (or 405) with or without a token.
    """

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        match_info = request.match_info
        if match_info.http_exception is None and match_info.handler not in public:
            request[PRINCIPAL] = await _principal(request, tokens, clock())
        return await handler(request)

    return authenticate


async def _principal(request: web.Request, tokens: TokenStore, now: datetime) -> TokenInfo:
    token = bearer_token(request)
    if token is None:
        raise unauthorized("this API needs an 'Authorization: Bearer <token>' header")
    info = await tokens.lookup(token)
    if info is None:
        raise unauthorized("the bearer token is not valid (unknown or logged out)", "invalid_token")
    if info.expired(now):
        raise unauthorized("the bearer token expired; log in again", "invalid_token")
    return info


def require_role(*roles: str) -> Callable[[Handler], Handler]:
    """Decorate a handler so only accounts with one of ``roles`` may call it (else 403)."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def checked(request: web.Request) -> web.StreamResponse:
            role = request[PRINCIPAL].role
            if role not in roles:
                raise ApiError(
                    403,
                    f"the {role!r} role may not use {request.method} {request.path}",
                    {"role": role, "allowed_roles": list(roles)},
                )
            return await handler(request)

        return checked

    return decorate
