"""Checking what clients send to the flows API: every problem is a 400 naming the field.

Flow documents go into PostgreSQL ``jsonb``, which refuses some JSON Python accepts: NUL
characters in strings, ``NaN``/``Infinity``, and nesting deeper than its parser's stack.
Those are refused here, with the path to the offending value, so a bad body never reaches
the database as an internal error.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from agent_desktop.errors import bad_request

MAX_ID = 2**63 - 1  # ids are PostgreSQL bigint
MAX_VERSION = 2**31 - 1  # versions are integer
MAX_DEPTH = 32  # real flows nest about 6 deep (node > rules > when > weekly > day > span)
MAX_DOCUMENT_BYTES = 512 * 1024

_DIGITS = re.compile(r"[0-9]{1,19}")


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


async def json_body(request: web.Request, *, optional: bool = False) -> dict[str, Any]:
    """The request's JSON object; ``optional`` lets an empty body stand for ``{}``."""
    raw = await request.read()
    if not raw.strip():
        if optional:
            return {}
        raise bad_request("the request body is empty; send a JSON object")
    try:
        body = json.loads(raw, parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:  # bad JSON, not UTF-8, too deep
        raise bad_request(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise bad_request(f"the request body must be a JSON object, not {type(body).__name__}")
    return body


def require_string(body: dict[str, Any], name: str, max_length: int) -> str:
    """``body[name]``: a non-empty printable string of at most ``max_length`` characters."""
    if name not in body:
        raise bad_request(f"the JSON body lacks {name!r}", field=name)
    return _string(body[name], name, max_length, empty_ok=False)


def optional_string(
    body: dict[str, Any], name: str, max_length: int, *, empty_ok: bool = False
) -> str | None:
    """``body[name]`` if present (and not null), checked like `require_string`."""
    value = body.get(name)
    return None if value is None else _string(value, name, max_length, empty_ok=empty_ok)


def _string(value: Any, name: str, max_length: int, *, empty_ok: bool) -> str:
    if (
        not isinstance(value, str)
        or len(value) > max_length
        or (not empty_ok and not value.strip())
        or "\x00" in value
    ):
        need = "a string" if empty_ok else "a non-empty string"
        raise bad_request(
            f"{name!r} must be {need} of at most {max_length} characters (no NUL)", field=name
        )
    return value


def require_document(body: dict[str, Any], name: str = "document") -> dict[str, Any]:
    """``body[name]``: a JSON object the database can store (its contents may be invalid)."""
    if name not in body:
        raise bad_request(f"the JSON body lacks {name!r}", field=name)
    document = body[name]
    if not isinstance(document, dict):
        raise bad_request(
            f"{name!r} must be a JSON object (a flow document), not {_json_type(document)}",
            field=name,
        )
    _check_storable(document, name, 0)
    if len(json.dumps(document)) > MAX_DOCUMENT_BYTES:
        raise bad_request(f"{name!r} is larger than {MAX_DOCUMENT_BYTES} bytes", field=name)
    return document


def _check_storable(value: Any, path: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise bad_request(f"{path!r} nests deeper than {MAX_DEPTH} levels", field=path)
    if isinstance(value, str) and "\x00" in value:
        raise bad_request(f"{path!r} holds a NUL character", field=path)
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                raise bad_request(f"a key in {path!r} holds a NUL character", field=path)
            _check_storable(item, f"{path}.{key}", depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_storable(item, f"{path}.{index}", depth + 1)


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def parse_id(raw: str, name: str, maximum: int = MAX_ID) -> int:
    """A positive integer path parameter, or a 400 naming it."""
    if _DIGITS.fullmatch(raw) and 1 <= int(raw) <= maximum:
        return int(raw)
    raise bad_request(f"{name} must be a positive integer, got {raw!r}", parameter=name, value=raw)


def version_ref(query: MultiMapping[str], name: str, default: int | str) -> int | str:
    """A query parameter naming a version: its number, or ``draft``."""
    values = query.getall(name, [])
    if len(values) > 1:
        raise bad_request(f"{name} is given {len(values)} times; give it once", parameter=name)
    if not values:
        return default
    if values[0] == "draft":
        return "draft"
    return parse_id(values[0], name, MAX_VERSION)
