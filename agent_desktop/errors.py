"""JSON errors for the REST API: every failure under ``/api/v1`` is ``{"error", "detail"}``.

Handlers raise `ApiError`; `error_middleware`, the API's outermost middleware, turns it (and
aiohttp's own HTTP errors, such as an unknown route or a body that is too large, and any
unexpected exception) into a JSON response. ``error`` is a sentence naming the problem;
``detail`` is structured data about it (the offending parameter, the roles allowed ...) or null.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

log = logging.getLogger(__name__)

# Headers of aiohttp's HTTP errors worth keeping on the JSON version (405 names the methods).
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


class ApiError(Exception):
    """An API request failed; the client gets ``status`` and ``{"error": message, "detail"}``."""

    def __init__(
        self,
        status: int,
        message: str,
        detail: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        """The JSON response for this error."""
        body = {"error": self.message, "detail": self.detail}
        return web.json_response(body, status=self.status, headers=self.headers)


def bad_request(message: str, **detail: Any) -> ApiError:
    """A 400 error; ``detail`` names the offending field or parameter and value."""
    return ApiError(400, message, detail or None)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer every failure below it with a JSON error; log the unexpected ones."""
    try:
        return await handler(request)
    except ApiError as error:
        return error.response()
    except web.HTTPException as exc:
        if exc.status < 400:  # redirects and the like are not errors
            raise
        return _from_http_exception(exc, request).response()
    except Exception:  # the edge of the API: nothing else reports it
        log.exception("%s %s failed", request.method, request.path)
        return ApiError(500, "internal server error").response()


def _from_http_exception(exc: web.HTTPException, request: web.Request) -> ApiError:
    headers = {name: exc.headers[name] for name in _KEPT_HEADERS if name in exc.headers}
    if exc.status == 404:
        return ApiError(404, f"no such API route: {request.path}", headers=headers)
    if exc.status == 405:
        message = f"method {request.method} is not allowed on {request.path}"
        return ApiError(405, message, {"allowed": headers.get("Allow", "")}, headers)
    return ApiError(exc.status, exc.reason.lower(), exc.text or None, headers)
