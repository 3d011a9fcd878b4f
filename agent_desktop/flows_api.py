"""The IVR flows API under ``/api/v1`` (supervisors and admins only).

Routes (JSON in and out; errors are ``{"error", "detail"}`` as everywhere in the API):

- ``GET /flows`` -> ``{"flows": [{"id", "name", "live_version", "updated_by", "updated_at"}]}``
- ``POST /flows`` ``{"name", "document"?}`` -> 201, the flow (a starter document if none given)
- ``GET /flows/{id}`` -> ``{"id", "name", "draft", "live_version", "updated_by", "updated_at",
  "errors"}``; ``errors`` is the validator's list for the draft
- ``PUT /flows/{id}`` ``{"document", "name"?}`` -> the flow: drafts save whatever they hold
  (as long as it is a JSON object) and come back with their ``errors``
- ``POST /flows/{id}/validate`` ``{"document"?}`` -> ``{"valid", "errors"}`` for the given
  document, or the saved draft when the body is empty
- ``POST /flows/{id}/publish`` ``{"comment"?}`` -> 201 ``{"flow_id", "version", ...}``; 422 with
  ``detail.errors`` when the draft does not validate
- ``GET /flows/{id}/versions`` -> ``{"versions": [...]}`` newest first, the live one marked;
  ``GET /flows/{id}/versions/{n}`` -> one version with its ``document``
- ``POST /flows/{id}/rollback`` ``{"version", "comment"?}`` -> 201, the new version that
  republishes ``version``
- ``GET /flows/{id}/diff?from=&to=`` -> the structural diff; each side is a version number or
  ``draft`` (defaults: the live version to the draft)
- ``POST /flows/{id}/simulate`` ``{"script", "document"?, "version"?, "caller"?, "at"?,
  "agents"?}`` -> the path, prompts and variables (see `agent_desktop.flows_sim`)
- ``GET /flows/schema`` -> the JSON Schema of a flow document (the editor's forms)
- ``GET /flows/numbers``, ``PUT /flows/numbers/{number}`` ``{"flow_id", "description"?}``,
  ``DELETE /flows/numbers/{number}``: which flow answers which dialled number

The validator's errors are ``{"node_id", "field", "message"}`` everywhere. A malformed body
is a 400 whose ``detail.field`` names the offending field; nothing a client sends is a 500.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from agent_desktop.auth import PRINCIPAL, require_role
from agent_desktop.errors import ApiError, bad_request
from agent_desktop.flows_body import (
    MAX_ID,
    MAX_VERSION,
    json_body,
    optional_string,
    parse_id,
    require_document,
    require_string,
    version_ref,
)
from agent_desktop.flows_sim import parse_request, run_simulation
from ivr.diff import FlowDiff, diff_docs
from ivr.schema import flow_json_schema
from ivr.simulate import FlowUnusable
from ivr.store import Flow, FlowInvalid, FlowNotFound, FlowStore, FlowVersion
from ivr.validate import FlowError, validate

FLOW_EDITORS = ("supervisor", "admin")
MAX_NAME = 200
MAX_COMMENT = 2000
MAX_NUMBER = 256


@dataclass
class FlowsApiState:
    """What the flow handlers share: the flow store and the CRM the simulator looks up."""

    flows: FlowStore
    crm: Any = None  # crm_bridge.Crm, or None: look-ups in simulations then find nothing


FLOWS = web.AppKey("flows", FlowsApiState)
routes = web.RouteTableDef()


def add_flows_api(api: web.Application, *, store: Any, crm: Any = None) -> None:
    """Add the flow routes to the API sub-application ``api`` (see `agent_desktop.api.add_api`)."""
    api[FLOWS] = FlowsApiState(FlowStore(store), crm)
    api.add_routes(routes)


def starter_document(name: str) -> dict[str, Any]:
    """What a new flow holds until edited: a greeting that hangs up (valid as it is)."""
    return {
        "name": name,
        "start": "welcome",
        "language": "en",
        "nodes": [
            {"id": "welcome", "kind": "say", "prompt": {"text": "Welcome."}, "next": "goodbye"},
            {"id": "goodbye", "kind": "hangup", "prompt": {"text": "Goodbye."}},
        ],
    }


# -- schema and numbers (static paths first: they would otherwise match /flows/{id}) -------


@routes.get("/flows/schema")
@require_role(*FLOW_EDITORS)
async def get_schema(request: web.Request) -> web.Response:
    """The JSON Schema of a flow document."""
    return web.json_response(flow_json_schema())


@routes.get("/flows/numbers")
@require_role(*FLOW_EDITORS)
async def list_numbers(request: web.Request) -> web.Response:
    """Every dialled number (or URI, or ``*``) and the flow it runs."""
    numbers = await _flows(request).numbers()
    rows = [{"number": number, "flow_id": flow_id} for number, flow_id in numbers.items()]
    return web.json_response({"numbers": rows})


@routes.put("/flows/numbers/{number}")
@require_role(*FLOW_EDITORS)
async def map_number(request: web.Request) -> web.Response:
    """Route calls to ``number`` to the flow ``flow_id``."""
    number = _number(request)
    body = await json_body(request)
    if "flow_id" not in body:
        raise bad_request("the JSON body lacks 'flow_id'", field="flow_id")
    flow_id = body["flow_id"]
    if type(flow_id) is not int or not 1 <= flow_id <= MAX_ID:
        raise bad_request("'flow_id' must be a positive integer", field="flow_id")
    description = optional_string(body, "description", MAX_NAME) or ""
    await _flow(request, flow_id)
    await _flows(request).map_number(number, flow_id, description)
    return web.json_response({"number": number, "flow_id": flow_id, "description": description})


@routes.delete("/flows/numbers/{number}")
@require_role(*FLOW_EDITORS)
async def unmap_number(request: web.Request) -> web.Response:
    """Stop routing ``number`` (404 if it was not routed)."""
    number = _number(request)
    flows = _flows(request)
    if number not in await flows.numbers():
        raise ApiError(404, f"the number {number!r} is not routed to a flow", {"number": number})
    await flows.unmap_number(number)
    return web.json_response({"number": number, "removed": True})


def _number(request: web.Request) -> str:
    number = request.match_info["number"].strip()
    if not number or len(number) > MAX_NUMBER or not number.isprintable():
        raise bad_request(
            f"the number must be 1 to {MAX_NUMBER} printable characters", parameter="number"
        )
    return number


# -- flows and drafts -------------------------------------------------------------------


@routes.get("/flows")
@require_role(*FLOW_EDITORS)
async def list_flows(request: web.Request) -> web.Response:
    """Every flow, without documents."""
    flows = await _flows(request).list()
    return web.json_response({"flows": [_summary(flow) for flow in flows]})


@routes.post("/flows")
@require_role(*FLOW_EDITORS)
async def create_flow(request: web.Request) -> web.Response:
    """A new flow: ``name`` and an optional first draft ``document``."""
    body = await json_body(request)
    name = require_string(body, "name", MAX_NAME)
    document = require_document(body) if "document" in body else starter_document(name)
    flows = _flows(request)
    flow_id = await flows.create(name, document, by=_who(request))
    return web.json_response(_flow_json(await flows.get(flow_id)), status=201)


@routes.get("/flows/{id}")
@require_role(*FLOW_EDITORS)
async def get_flow(request: web.Request) -> web.Response:
    """The flow with its draft and the draft's validation errors."""
    return web.json_response(_flow_json(await _flow(request)))


@routes.put("/flows/{id}")
@require_role(*FLOW_EDITORS)
async def update_draft(request: web.Request) -> web.Response:
    """Save the draft (valid or not) and answer it with its errors."""
    flow_id = parse_id(request.match_info["id"], "flow id")
    body = await json_body(request)
    document = require_document(body)
    name = optional_string(body, "name", MAX_NAME)
    try:
        flow = await _flows(request).update_draft(flow_id, document, by=_who(request), name=name)
    except FlowNotFound:
        raise _no_flow(flow_id) from None
    return web.json_response(_flow_json(flow))


@routes.post("/flows/{id}/validate")
@require_role(*FLOW_EDITORS)
async def validate_flow(request: web.Request) -> web.Response:
    """Validate ``document`` (or the saved draft when the body is empty)."""
    flow = await _flow(request)
    body = await json_body(request, optional=True)
    document = require_document(body) if "document" in body else flow.draft
    errors = validate(document)
    return web.json_response({"valid": not errors, "errors": errors_json(errors)})


# -- versions ---------------------------------------------------------------------------


@routes.post("/flows/{id}/publish")
@require_role(*FLOW_EDITORS)
async def publish(request: web.Request) -> web.Response:
    """Publish the draft as the next version (422 with the errors if it is not valid)."""
    flow_id = parse_id(request.match_info["id"], "flow id")
    body = await json_body(request, optional=True)
    comment = optional_string(body, "comment", MAX_COMMENT, empty_ok=True) or ""
    flows = _flows(request)
    try:
        number = await flows.publish(flow_id, by=_who(request), comment=comment)
    except FlowNotFound:
        raise _no_flow(flow_id) from None
    except FlowInvalid as exc:
        raise invalid_flow(exc.errors) from None
    return web.json_response(
        _version_json(await flows.version(flow_id, number), live=number), status=201
    )


@routes.get("/flows/{id}/versions")
@require_role(*FLOW_EDITORS)
async def list_versions(request: web.Request) -> web.Response:
    """Every published version, newest first (``live`` marks the one new calls run)."""
    flow = await _flow(request)
    versions = await _flows(request).versions(flow.id)
    live = flow.published_version
    return web.json_response({"versions": [_version_json(v, live=live) for v in versions]})


@routes.get("/flows/{id}/versions/{version}")
@require_role(*FLOW_EDITORS)
async def get_version(request: web.Request) -> web.Response:
    """One published version, with its document."""
    flow = await _flow(request)
    number = parse_id(request.match_info["version"], "version", MAX_VERSION)
    version = await _version(request, flow.id, number)
    return web.json_response(
        {**_version_json(version, live=flow.published_version), "document": version.doc}
    )


@routes.post("/flows/{id}/rollback")
@require_role(*FLOW_EDITORS)
async def rollback(request: web.Request) -> web.Response:
    """Republish an older ``version`` as the next version."""
    flow = await _flow(request)
    body = await json_body(request)
    if "version" not in body:
        raise bad_request("the JSON body lacks 'version'", field="version")
    old = body["version"]
    if type(old) is not int or not 1 <= old <= MAX_VERSION:
        raise bad_request("'version' must be a positive integer", field="version")
    comment = optional_string(body, "comment", MAX_COMMENT, empty_ok=True) or ""
    flows = _flows(request)
    await _version(request, flow.id, old)
    number = await flows.rollback(flow.id, old, by=_who(request), comment=comment)
    return web.json_response(
        _version_json(await flows.version(flow.id, number), live=number), status=201
    )


@routes.get("/flows/{id}/diff")
@require_role(*FLOW_EDITORS)
async def diff(request: web.Request) -> web.Response:
    """What changed from ``from`` to ``to`` (version numbers or ``draft``)."""
    flow = await _flow(request)
    default_from: int | str = flow.published_version or "draft"
    old = version_ref(request.query, "from", default_from)
    new = version_ref(request.query, "to", "draft")
    before = await _document(request, flow, old)
    after = await _document(request, flow, new)
    return web.json_response({"from": old, "to": new, **diff_json(diff_docs(before, after))})


async def _document(request: web.Request, flow: Flow, ref: int | str) -> dict[str, Any]:
    if ref == "draft":
        return flow.draft
    assert isinstance(ref, int)
    return (await _version(request, flow.id, ref)).doc


# -- simulation -------------------------------------------------------------------------


@routes.post("/flows/{id}/simulate")
@require_role(*FLOW_EDITORS)
async def simulate(request: web.Request) -> web.Response:
    """Run a document (the body's, a version, or the draft) on a simulated call.

    Drafts with validation errors may be simulated as long as they parse (the answer's
    ``warnings`` lists the errors); one that does not parse is a 422 like a publish.
    """
    flow = await _flow(request)
    body = await json_body(request)
    wanted = parse_request(body)
    if "document" in body:
        document = require_document(body)
    else:
        ref = _version_field(body["version"]) if "version" in body else "draft"
        document = await _document(request, flow, ref)
    state = request.app[FLOWS]
    notices = {n.name: n.text for n in await state.flows.notices() if n.active}
    try:
        result = await run_simulation(document, wanted, crm=state.crm, notices=notices)
    except FlowUnusable as exc:
        raise invalid_flow(exc.errors, "simulated") from None
    return web.json_response(result)


def _version_field(value: Any) -> int | str:
    if value == "draft" or (type(value) is int and 1 <= value <= MAX_VERSION):
        return value
    raise bad_request("'version' must be a positive integer or \"draft\"", field="version")


# -- helpers ----------------------------------------------------------------------------


def _flows(request: web.Request) -> FlowStore:
    return request.app[FLOWS].flows


def _who(request: web.Request) -> str:
    return request[PRINCIPAL].username


async def _flow(request: web.Request, flow_id: int | None = None) -> Flow:
    if flow_id is None:
        flow_id = parse_id(request.match_info["id"], "flow id")
    try:
        return await _flows(request).get(flow_id)
    except FlowNotFound:
        raise _no_flow(flow_id) from None


async def _version(request: web.Request, flow_id: int, number: int) -> FlowVersion:
    try:
        return await _flows(request).version(flow_id, number)
    except FlowNotFound:
        raise ApiError(
            404, f"flow {flow_id} has no version {number}", {"flow_id": flow_id, "version": number}
        ) from None


def _no_flow(flow_id: int) -> ApiError:
    return ApiError(404, f"no flow with id {flow_id}", {"id": flow_id})


def invalid_flow(errors: list[FlowError], what: str = "published") -> ApiError:
    """The 422 for a flow that cannot be ``what``: ``detail.errors`` is the validator's list."""
    count = len(errors)
    message = f"the flow cannot be {what}: {count} validation error{'s' if count > 1 else ''}"
    return ApiError(422, message, {"errors": errors_json(errors)})


def errors_json(errors: list[FlowError]) -> list[dict[str, Any]]:
    """The validator's errors as ``[{"node_id", "field", "message"}]``."""
    return [{"node_id": e.node_id, "field": e.field, "message": e.message} for e in errors]


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _summary(flow: Flow) -> dict[str, Any]:
    return {
        "id": flow.id,
        "name": flow.name,
        "live_version": flow.published_version,
        "updated_by": flow.updated_by,
        "updated_at": _iso(flow.updated_at),
    }


def _flow_json(flow: Flow) -> dict[str, Any]:
    return {**_summary(flow), "draft": flow.draft, "errors": errors_json(validate(flow.draft))}


def _version_json(version: FlowVersion, *, live: int | None) -> dict[str, Any]:
    return {
        "flow_id": version.flow_id,
        "version": version.version,
        "published_by": version.published_by,
        "published_at": _iso(version.published_at),
        "comment": version.comment,
        "source_version": version.source_version,
        "live": version.version == live,
    }


def diff_json(found: FlowDiff) -> dict[str, Any]:
    """The diff as the store gives it, plus ``changes``: one flat, ordered list for display.

    Each change is ``{"op": "added"|"removed"|"changed", "path", "old", "new"}``; node paths
    start with the node id (``menu.options.0.next``), document fields with ``flow.``.
    """
    changes: list[dict[str, Any]] = []
    for node_id in found.added:
        changes.append({"op": "added", "path": node_id, "old": None, "new": "node"})
    for node_id in found.removed:
        changes.append({"op": "removed", "path": node_id, "old": "node", "new": None})
    for prefix, items in [("flow", found.document), *found.changed.items()]:
        for change in items:
            op = (
                "added"
                if change.before is None
                else "removed"
                if change.after is None
                else "changed"
            )
            path = f"{prefix}.{change.path}"
            changes.append({"op": op, "path": path, "old": change.before, "new": change.after})
    return {**found.as_dict(), "changes": changes}
