"""The /api/v1/flows API against a real PostgreSQL: drafts, validation, versions, numbers."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from hotline.health import Health
from hotline.http import create_app
from hotline.store import Store

Client = TestClient[Any, Any]

DEMO = json.loads((Path(__file__).parents[2] / "ivr" / "demo_flow.json").read_text())
ACCOUNTS = {"sue": ("sue-secret", "supervisor"), "ada": ("ada-secret", "admin")}
ACCOUNTS["al"] = ("al-secret", "agent")


def small_flow() -> dict[str, Any]:
    return {
        "name": "Small",
        "start": "hello",
        "nodes": [
            {"id": "hello", "kind": "say", "prompt": {"text": "Hello."}, "next": "bye"},
            {"id": "bye", "kind": "hangup"},
        ],
    }


@pytest.fixture
async def client(store: Store) -> AsyncIterator[Client]:
    for username, (password, role) in ACCOUNTS.items():
        await store.users.add_user(username, password, role)
    async with TestClient(TestServer(create_app(Health(store, None), store))) as test_client:
        yield test_client


@pytest.fixture
async def sue(client: Client) -> dict[str, str]:
    """Headers of a signed-in supervisor."""
    return await headers_for(client, "sue")


async def headers_for(client: Client, username: str) -> dict[str, str]:
    body = {"username": username, "password": ACCOUNTS[username][0]}
    response = await client.post("/api/v1/login", json=body)
    assert response.status == 200, await response.text()
    return {"Authorization": f"Bearer {(await response.json())['token']}"}


async def call(
    client: Client, method: str, path: str, headers: dict[str, str], body: Any = None
) -> tuple[int, Any]:
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs["json"] = body
    response = await client.request(method, "/api/v1" + path, **kwargs)
    assert response.content_type == "application/json", await response.text()
    return response.status, await response.json()


async def create(client: Client, headers: dict[str, str], doc: dict[str, Any]) -> int:
    status, body = await call(client, "POST", "/flows", headers, {"name": "Shop", "document": doc})
    assert status == 201, body
    flow_id: int = body["id"]
    return flow_id


# -- drafts -------------------------------------------------------------------------------


async def test_create_list_and_read_a_flow(client: Client, sue: dict[str, str]) -> None:
    flow_id = await create(client, sue, DEMO)
    status, listing = await call(client, "GET", "/flows", sue)
    assert status == 200
    assert [(f["id"], f["name"], f["live_version"]) for f in listing["flows"]] == [
        (flow_id, "Shop", None)
    ]
    status, flow = await call(client, "GET", f"/flows/{flow_id}", sue)
    assert status == 200
    assert flow["draft"] == DEMO
    assert flow["errors"] == []
    assert flow["updated_by"] == "sue"


async def test_a_new_flow_without_a_document_gets_a_valid_starter(
    client: Client, sue: dict[str, str]
) -> None:
    status, flow = await call(client, "POST", "/flows", sue, {"name": "Returns line"})
    assert status == 201
    assert flow["draft"]["name"] == "Returns line"
    assert flow["errors"] == []


async def test_an_invalid_draft_saves_and_answers_its_errors(
    client: Client, sue: dict[str, str]
) -> None:
    flow_id = await create(client, sue, small_flow())
    doc = small_flow()
    doc["nodes"][0]["prompt"]["text"] = ""
    doc["nodes"][0]["next"] = "nowhere"
    status, flow = await call(client, "PUT", f"/flows/{flow_id}", sue, {"document": doc})
    assert status == 200
    assert flow["draft"] == doc
    problems = {(e["node_id"], e["field"]) for e in flow["errors"]}
    assert ("hello", "prompt.text") in problems
    assert ("hello", "next") in problems
    assert all(set(e) == {"node_id", "field", "message"} for e in flow["errors"])
    _, again = await call(client, "GET", f"/flows/{flow_id}", sue)
    assert again["draft"] == doc


async def test_validate_checks_the_given_document_or_the_saved_draft(
    client: Client, sue: dict[str, str]
) -> None:
    flow_id = await create(client, sue, small_flow())
    status, saved = await call(client, "POST", f"/flows/{flow_id}/validate", sue)
    assert (status, saved) == (200, {"valid": True, "errors": []})
    doc = small_flow()
    doc["nodes"].append({"id": "lost", "kind": "hangup"})
    status, given = await call(client, "POST", f"/flows/{flow_id}/validate", sue, {"document": doc})
    assert status == 200
    assert given["valid"] is False
    assert {"node_id": "lost", "field": "id"} in [
        {"node_id": e["node_id"], "field": e["field"]} for e in given["errors"]
    ]


async def test_put_renames_the_flow(client: Client, sue: dict[str, str]) -> None:
    flow_id = await create(client, sue, small_flow())
    body = {"document": small_flow(), "name": "Renamed"}
    status, flow = await call(client, "PUT", f"/flows/{flow_id}", sue, body)
    assert (status, flow["name"]) == (200, "Renamed")


# -- publishing ---------------------------------------------------------------------------


async def test_publish_creates_numbered_versions(client: Client, sue: dict[str, str]) -> None:
    flow_id = await create(client, sue, small_flow())
    status, v1 = await call(client, "POST", f"/flows/{flow_id}/publish", sue, {"comment": "first"})
    assert status == 201
    assert (v1["version"], v1["comment"], v1["published_by"], v1["live"]) == (
        1,
        "first",
        "sue",
        True,
    )
    doc = small_flow()
    doc["nodes"][0]["prompt"]["text"] = "Hi there."
    await call(client, "PUT", f"/flows/{flow_id}", sue, {"document": doc})
    status, v2 = await call(client, "POST", f"/flows/{flow_id}/publish", sue)
    assert (status, v2["version"], v2["comment"]) == (201, 2, "")
    status, listing = await call(client, "GET", f"/flows/{flow_id}/versions", sue)
    assert status == 200
    assert [(v["version"], v["live"]) for v in listing["versions"]] == [(2, True), (1, False)]
    _, flow = await call(client, "GET", f"/flows/{flow_id}", sue)
    assert flow["live_version"] == 2
    status, one = await call(client, "GET", f"/flows/{flow_id}/versions/1", sue)
    assert (status, one["document"]) == (200, small_flow())


async def test_an_invalid_draft_is_refused_with_422_and_the_list(
    client: Client, sue: dict[str, str]
) -> None:
    doc = small_flow()
    doc["nodes"][0]["prompt"]["text"] = " "
    flow_id = await create(client, sue, doc)
    status, body = await call(client, "POST", f"/flows/{flow_id}/publish", sue, {"comment": "x"})
    assert status == 422
    assert "validation error" in body["error"]
    assert body["detail"]["errors"] == [
        {
            "node_id": "hello",
            "field": "prompt.text",
            "message": "the prompt has no text and no file",
        }
    ]
    _, listing = await call(client, "GET", f"/flows/{flow_id}/versions", sue)
    assert listing["versions"] == []


async def test_rollback_republishes_an_old_version(client: Client, sue: dict[str, str]) -> None:
    flow_id = await create(client, sue, small_flow())
    await call(client, "POST", f"/flows/{flow_id}/publish", sue, {"comment": "one"})
    doc = small_flow()
    doc["nodes"][0]["prompt"]["text"] = "Changed."
    await call(client, "PUT", f"/flows/{flow_id}", sue, {"document": doc})
    await call(client, "POST", f"/flows/{flow_id}/publish", sue, {"comment": "two"})
    status, v3 = await call(client, "POST", f"/flows/{flow_id}/rollback", sue, {"version": 1})
    assert status == 201
    assert (v3["version"], v3["source_version"], v3["live"]) == (3, 1, True)
    _, three = await call(client, "GET", f"/flows/{flow_id}/versions/3", sue)
    assert three["document"] == small_flow()
    status, body = await call(client, "POST", f"/flows/{flow_id}/rollback", sue, {"version": 9})
    assert status == 404
    assert body["detail"] == {"flow_id": flow_id, "version": 9}


async def test_diff_between_versions_and_the_draft(client: Client, sue: dict[str, str]) -> None:
    flow_id = await create(client, sue, small_flow())
    await call(client, "POST", f"/flows/{flow_id}/publish", sue)
    doc = small_flow()
    doc["nodes"][0]["prompt"]["text"] = "Changed."
    doc["nodes"].append({"id": "extra", "kind": "hangup"})
    await call(client, "PUT", f"/flows/{flow_id}", sue, {"document": doc})
    status, diff = await call(client, "GET", f"/flows/{flow_id}/diff", sue)  # live -> draft
    assert status == 200
    assert (diff["from"], diff["to"], diff["added"]) == (1, "draft", ["extra"])
    assert {"op": "changed", "path": "hello.prompt.text", "old": "Hello.", "new": "Changed."} in (
        diff["changes"]
    )
    status, same = await call(client, "GET", f"/flows/{flow_id}/diff?from=1&to=1", sue)
    assert (status, same["changes"]) == (200, [])
    status, _ = await call(client, "GET", f"/flows/{flow_id}/diff?from=7", sue)
    assert status == 404


# -- numbers ------------------------------------------------------------------------------


async def test_number_mapping(client: Client, sue: dict[str, str]) -> None:
    flow_id = await create(client, sue, small_flow())
    status, body = await call(client, "PUT", "/flows/numbers/hotline", sue, {"flow_id": flow_id})
    assert (status, body["number"], body["flow_id"]) == (200, "hotline", flow_id)
    await call(client, "PUT", "/flows/numbers/%2B48221234567", sue, {"flow_id": flow_id})
    _, listing = await call(client, "GET", "/flows/numbers", sue)
    assert listing["numbers"] == [
        {"number": "+48221234567", "flow_id": flow_id},
        {"number": "hotline", "flow_id": flow_id},
    ]
    status, _ = await call(client, "DELETE", "/flows/numbers/hotline", sue)
    assert status == 200
    status, _ = await call(client, "DELETE", "/flows/numbers/hotline", sue)
    assert status == 404
    status, body = await call(client, "PUT", "/flows/numbers/x", sue, {"flow_id": 999})
    assert (status, body["detail"]) == (404, {"id": 999})


async def test_schema_is_the_flow_json_schema(client: Client, sue: dict[str, str]) -> None:
    status, schema = await call(client, "GET", "/flows/schema", sue)
    assert status == 200
    assert "SayNode" in schema["$defs"]
    assert schema["properties"]["nodes"]["type"] == "array"


# -- access -------------------------------------------------------------------------------


async def test_agents_may_not_touch_flows_and_admins_may(client: Client) -> None:
    agent = await headers_for(client, "al")
    admin = await headers_for(client, "ada")
    status, body = await call(client, "GET", "/flows", agent)
    assert status == 403
    assert body["detail"]["allowed_roles"] == ["supervisor", "admin"]
    status, _ = await call(client, "POST", "/flows", agent, {"name": "x"})
    assert status == 403
    status, _ = await call(client, "GET", "/flows", admin)
    assert status == 200
    status, _ = await call(client, "GET", "/flows", {})
    assert status == 401


# -- malformed requests -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/flows", {}, "name"),
        ("POST", "/flows", {"name": 5}, "name"),
        ("POST", "/flows", {"name": "x", "document": []}, "document"),
        ("PUT", "/flows/{id}", {"name": "x"}, "document"),
        ("PUT", "/flows/{id}", {"document": "flow"}, "document"),
        ("PUT", "/flows/{id}", {"document": {"name": "a\u0000b"}}, "document.name"),
        ("PUT", "/flows/{id}", {"document": {}, "name": ""}, "name"),
        ("POST", "/flows/{id}/publish", {"comment": 3}, "comment"),
        ("POST", "/flows/{id}/rollback", {}, "version"),
        ("POST", "/flows/{id}/rollback", {"version": "1"}, "version"),
        ("POST", "/flows/{id}/rollback", {"version": True}, "version"),
        ("POST", "/flows/{id}/validate", {"document": None}, "document"),
        ("POST", "/flows/{id}/simulate", {"script": "1"}, "script"),
        ("POST", "/flows/{id}/simulate", {"script": [{"digits": "x"}]}, "script.0.digits"),
        ("POST", "/flows/{id}/simulate", {"script": [{"sings": "la"}]}, "script.0"),
        ("POST", "/flows/{id}/simulate", {"script": [], "version": 0}, "version"),
        ("PUT", "/flows/numbers/hotline", {}, "flow_id"),
        ("PUT", "/flows/numbers/hotline", {"flow_id": "1"}, "flow_id"),
    ],
)
async def test_malformed_bodies_are_400_naming_the_field(
    client: Client, sue: dict[str, str], method: str, path: str, body: Any, field: str
) -> None:
    flow_id = await create(client, sue, small_flow())
    status, answer = await call(client, method, path.format(id=flow_id), sue, body)
    assert status == 400, answer
    assert answer["detail"]["field"] == field
    assert repr(field.split(".")[0])[1:-1] in answer["error"]


@pytest.mark.parametrize(
    ("method", "path", "raw"),
    [
        ("POST", "/flows", b"{not json"),
        ("POST", "/flows", b'{"name": NaN}'),
        ("PUT", "/flows/{id}", b'{"document": {"a": Infinity}}'),
        ("PUT", "/flows/{id}", b"[" * 5000 + b"]" * 5000),
        ("PUT", "/flows/{id}", b""),
        ("POST", "/flows/{id}/rollback", b"\xff\xfe"),
    ],
)
async def test_bodies_that_are_not_json_objects_are_400(
    client: Client, sue: dict[str, str], method: str, path: str, raw: bytes
) -> None:
    flow_id = await create(client, sue, small_flow())
    response = await client.request(
        method, "/api/v1" + path.format(id=flow_id), data=raw, headers=sue
    )
    assert response.status == 400
    assert "error" in await response.json()


@pytest.mark.parametrize(
    "path",
    [
        "/flows/0",
        "/flows/abc",
        "/flows/99999999999999999999",
        "/flows/1/versions/0",
        "/flows/1/diff?from=x",
    ],
)
async def test_bad_path_parameters_are_400(client: Client, sue: dict[str, str], path: str) -> None:
    await create(client, sue, small_flow())
    status, body = await call(client, "GET", path, sue)
    assert status == 400
    assert body["detail"]["parameter"] in ("flow id", "version", "from")


async def test_unknown_flow_is_404(client: Client, sue: dict[str, str]) -> None:
    requests: list[tuple[str, str, Any]] = [
        ("GET", "/flows/42", None),
        ("PUT", "/flows/42", {"document": {}}),
        ("POST", "/flows/42/publish", None),
        ("GET", "/flows/42/versions", None),
        ("POST", "/flows/42/simulate", {"script": []}),
    ]
    for method, path, body in requests:
        status, answer = await call(client, method, path, sue, body)
        assert (status, answer["detail"]) == (404, {"id": 42}), (method, path)


async def test_demo_flow_edit_round_trip_keeps_unicode(client: Client, sue: dict[str, str]) -> None:
    flow_id = await create(client, sue, DEMO)
    doc = copy.deepcopy(DEMO)
    doc["nodes"][0]["prompt"]["text"] = "Witamy — zażółć gęślą jaźń"
    status, flow = await call(client, "PUT", f"/flows/{flow_id}", sue, {"document": doc})
    assert (status, flow["draft"]) == (200, doc)


# -- simulation ---------------------------------------------------------------------------

MONDAY_10_WARSAW = "2026-11-23T10:00:00+01:00"
SUNDAY_NOON_WARSAW = "2026-11-22T12:00:00+01:00"


async def test_simulate_press_1_twice_reaches_the_order_number_question(
    client: Client, sue: dict[str, str]
) -> None:
    flow_id = await create(client, sue, DEMO)
    body = {"script": [{"digits": "1"}, {"digits": "1"}], "at": MONDAY_10_WARSAW}
    status, sim = await call(client, "POST", f"/flows/{flow_id}/simulate", sue, body)
    assert status == 200, sim
    assert sim["path"][:3] == ["welcome", "polish_hint", "choose_language"]
    assert sim["path"][-3:] == ["main_menu", "order_choice", "ask_order"]
    assert sim["waiting_at"] == "ask_order"
    assert sim["prompts"][0] == {"node_id": "welcome", "text": "Welcome to the Hotline shop."}
    assert sim["prompts"][-1]["node_id"] == "ask_order"
    assert sim["warnings"] == []


async def test_simulate_speech_and_out_of_hours(client: Client, sue: dict[str, str]) -> None:
    flow_id = await create(client, sue, DEMO)
    body = {"script": [{"says": "English"}, {"says": "billing"}], "at": MONDAY_10_WARSAW}
    _, sim = await call(client, "POST", f"/flows/{flow_id}/simulate", sue, body)
    assert "billing_info" in sim["path"]
    closed = {"script": [{"digits": "1"}], "at": SUNDAY_NOON_WARSAW}
    _, sim = await call(client, "POST", f"/flows/{flow_id}/simulate", sue, closed)
    assert "closed_menu" in sim["path"]
    assert "main_menu" not in sim["path"]


async def test_simulate_an_unsaved_document_or_an_old_version(
    client: Client, sue: dict[str, str]
) -> None:
    flow_id = await create(client, sue, small_flow())
    await call(client, "POST", f"/flows/{flow_id}/publish", sue)
    doc = small_flow()
    doc["nodes"][0]["prompt"]["text"] = "Unsaved hello."
    body: dict[str, Any] = {"document": doc, "script": []}
    _, sim = await call(client, "POST", f"/flows/{flow_id}/simulate", sue, body)
    assert [p["text"] for p in sim["prompts"]] == ["Unsaved hello."]
    assert (sim["path"], sim["waiting_at"]) == (["hello", "bye"], None)
    _, old = await call(client, "POST", f"/flows/{flow_id}/simulate", sue, {"version": 1})
    assert [p["text"] for p in old["prompts"]] == ["Hello."]


async def test_simulate_a_draft_with_errors_warns_and_one_that_does_not_parse_is_422(
    client: Client, sue: dict[str, str]
) -> None:
    flow_id = await create(client, sue, small_flow())
    doc = small_flow()
    doc["nodes"].append({"id": "lost", "kind": "hangup"})
    _, sim = await call(client, "POST", f"/flows/{flow_id}/simulate", sue, {"document": doc})
    assert sim["path"] == ["hello", "bye"]
    assert [w["node_id"] for w in sim["warnings"]] == ["lost"]
    doc["nodes"].append({"id": "odd", "kind": "dance"})
    status, body = await call(client, "POST", f"/flows/{flow_id}/simulate", sue, {"document": doc})
    assert status == 422
    assert {"node_id": "odd", "field": "kind"} in [
        {"node_id": e["node_id"], "field": e["field"]} for e in body["detail"]["errors"]
    ]
