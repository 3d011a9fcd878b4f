"""Property: whatever JSON a client sends the flows API, it answers a JSON 2xx or 4xx, never 500."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from hotline.health import Health
from hotline.http import create_app
from hotline.store import Store

Client = TestClient[Any, Any]

DEMO = json.loads((Path(__file__).parents[2] / "ivr" / "demo_flow.json").read_text())
FIELDS = ["document", "name", "comment", "version", "script", "flow_id", "caller", "at", "x"]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["", "\x00", "draft", "1", "welcome", "say", "menu", "{crm.name}"])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
script_steps = st.lists(
    st.fixed_dictionaries({"digits": st.text("0123456789*#", min_size=1, max_size=3)})
    | st.fixed_dictionaries({"says": st.sampled_from(["order status", "agent", "yes", "no"])})
    | st.just({"silence": True})
    | json_values,
    max_size=5,
)


@st.composite
def mutated_demo(draw: st.DrawFn) -> dict[str, Any]:
    """The demo flow with one node's field replaced by random JSON (or removed)."""
    doc = copy.deepcopy(DEMO)
    node = doc["nodes"][draw(st.integers(0, len(doc["nodes"]) - 1))]
    key = draw(st.sampled_from([*node, "extra", "kind", "id", "next"]))
    if draw(st.booleans()):
        node[key] = draw(json_values)
    else:
        node.pop(key, None)
    return doc


bodies = (
    st.fixed_dictionaries({"document": mutated_demo()})
    | json_values
    | st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=4)
    | st.fixed_dictionaries({"document": mutated_demo()})
    | st.fixed_dictionaries({"document": mutated_demo(), "script": script_steps})
    | st.fixed_dictionaries({"script": script_steps}, optional={"caller": json_values})
    | st.fixed_dictionaries({"version": json_values, "comment": json_values})
)
ENDPOINTS = [
    ("POST", "/flows"),
    ("PUT", "/flows/{id}"),
    ("POST", "/flows/{id}/validate"),
    ("POST", "/flows/{id}/publish"),
    ("POST", "/flows/{id}/rollback"),
    ("POST", "/flows/{id}/simulate"),
    ("PUT", "/flows/numbers/{number}"),
    ("GET", "/flows/{id}/diff?from={v}&to={w}"),
    ("GET", "/flows/{id}/versions/{v}"),
    ("DELETE", "/flows/numbers/{number}"),
]
ids = st.just("1") | st.sampled_from(["2", "0", "-1", "x", "1e3", "9" * 20, "%00", "1%20"])
versions = st.sampled_from(["1", "draft"]) | st.sampled_from(["2", "0", "", "x", "99999999999"])
numbers = st.sampled_from(
    ["hotline", "*", "%2B48221234567", "%00", "%20", "a" * 300, "sip%3Ax%40y"]
)


@pytest.fixture
async def client(store: Store) -> AsyncIterator[Client]:
    await store.users.add_user("sue", "sue-secret", "supervisor")
    async with TestClient(TestServer(create_app(Health(store, None), store))) as test_client:
        yield test_client


@pytest.fixture
async def sue(client: Client) -> dict[str, str]:
    body = {"username": "sue", "password": "sue-secret"}
    token = (await (await client.post("/api/v1/login", json=body)).json())["token"]
    headers = {"Authorization": f"Bearer {token}"}
    created = await client.post(
        "/api/v1/flows", json={"name": "Demo", "document": DEMO}, headers=headers
    )
    assert created.status == 201
    published = await client.post("/api/v1/flows/1/publish", headers=headers)
    assert published.status == 201
    return headers


@settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    endpoint=st.sampled_from(ENDPOINTS),
    flow_id=ids,
    v=versions,
    w=versions,
    number=numbers,
    body=bodies,
    raw=st.integers(0, 7).map(lambda n: n == 0),  # now and then cut the JSON short
)
async def test_the_flows_api_never_fails_on_client_input(
    client: Client,
    sue: dict[str, str],
    endpoint: tuple[str, str],
    flow_id: str,
    v: str,
    w: str,
    number: str,
    body: Any,
    raw: bool,
) -> None:
    method, template = endpoint
    path = "/api/v1" + template.format(id=flow_id, v=v, w=w, number=number)
    data = json.dumps(body).encode() if not raw else json.dumps(body)[:-1].encode()
    response = await client.request(method, path, data=data, headers=sue)
    event(f"{method} {template.split('?')[0]} -> {response.status}")
    assert response.status < 500, await response.text()
    assert response.content_type == "application/json"
    answer = await response.json()
    if response.status >= 400:
        assert isinstance(answer["error"], str) and answer["error"]
