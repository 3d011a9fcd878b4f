"""The validator: every rule of issue 5 names the node and the field; never raises."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr.demo import demo_flow_doc
from ivr.schema import NODE_KINDS, flow_json_schema, node_json_schema
from ivr.validate import validate

from .helpers import bye, flow, say


def problems(doc: Any) -> set[tuple[str | None, str]]:
    return {(e.node_id, e.field) for e in validate(doc)}


def menu(id: str, options: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    return {"id": id, "kind": "menu", "prompt": {"text": "Choose."}, "options": options, **kw}


def test_demo_flow_validates_clean() -> None:
    assert validate(demo_flow_doc()) == []


def test_every_kind_has_defaults_and_the_schema_lists_them() -> None:
    for kind in NODE_KINDS:
        errors = validate({"nodes": [{"id": "n", "kind": kind}]})
        assert all(e.field != "kind" for e in errors), (kind, errors)
    schema = flow_json_schema()
    assert set(schema["$defs"]) >= {"MenuNode", "BusinessHoursCondition", "Prompt"}
    assert node_json_schema()["discriminator"]["propertyName"] == "kind"


def test_unknown_kind_and_unknown_field_name_the_node() -> None:
    doc = flow(say("a", "Hi", "b"), {"id": "b", "kind": "dance"}, {**bye("c"), "colour": "red"})
    assert problems(doc) == {("b", "kind"), ("c", "colour")}


def test_type_errors_carry_the_field_path() -> None:
    doc = flow(menu("m", [{"digit": "11", "next": "bye"}], fallback="bye"), bye())
    assert problems(doc) == {("m", "options.0.digit")}
    doc = flow({"id": "b", "kind": "branch", "rules": [{"when": {"kind": "vip", "equals": 3}}]})
    assert ("b", "rules.0.when.equals") in problems(doc)


def test_edges_to_missing_nodes_and_unreachable_nodes() -> None:
    doc = flow(say("a", "Hi", "nowhere"), bye("island"))
    assert problems(doc) == {("a", "next"), ("island", "id")}


def test_menu_without_fallback_and_option_without_target() -> None:
    doc = flow(menu("m", [{"digit": "1", "next": "bye"}, {"digit": "2"}]), bye())
    assert problems(doc) == {("m", "fallback"), ("m", "options.1.next")}


def test_loop_without_input_is_refused_but_a_menu_loop_is_fine() -> None:
    spin = flow(say("a", "A", "b"), say("b", "B", "a"))
    [error] = validate(spin)
    assert (error.node_id, error.field) == ("a", "next") and "a -> b -> a" in error.message
    ok = flow(say("a", "A", "m"), menu("m", [{"digit": "1", "next": "a"}], fallback="bye"), bye())
    assert validate(ok) == []


def test_prompt_without_text_or_file() -> None:
    doc = flow(say("a", "", "bye"), bye())
    assert problems(doc) == {("a", "prompt.text")}
    assert validate(flow({"id": "a", "kind": "say", "prompt": {"file": "x.wav"}})) == []


def test_variable_read_before_any_node_sets_it() -> None:
    collect = {
        "id": "c",
        "kind": "collect",
        "prompt": {"text": "Number?"},
        "variable": "num",
        "next": "ok",
        "fallback": "sorry",
    }
    doc = flow(
        collect, say("ok", "You said {num}.", "bye"), say("sorry", "Not {num}.", "bye"), bye()
    )
    # set on the collect's success edge only: the fallback path cannot read it
    assert problems(doc) == {("sorry", "prompt.text")}
    builtins = flow(say("a", "Hello {crm.name}, from {caller} in {language}.", "bye"), bye())
    assert validate(builtins) == []
    declared = flow(say("a", "{greeting}", "bye"), bye(), variables={"greeting": "Hi"})
    assert validate(declared) == []


def test_top_level_problems_have_no_node() -> None:
    assert problems({"start": "x", "nodes": [bye()]}) == {(None, "start")}
    assert problems({"nodes": 3}) == {(None, "nodes")}
    assert problems([]) == {(None, "")}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)
kinds = st.sampled_from([*NODE_KINDS, "bogus"])
node_like = st.fixed_dictionaries(
    {"id": st.sampled_from(["a", "b", "c", ""]), "kind": kinds},
    optional={
        "next": st.sampled_from(["a", "b", "c", "z"]),
        "prompt": json_values,
        "options": json_values,
        "rules": json_values,
        "fallback": json_values,
    },
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        json_values,
        st.fixed_dictionaries(
            {"nodes": st.lists(node_like, max_size=5)}, optional={"start": json_values}
        ),
    )
)
def test_validate_never_raises(doc: Any) -> None:
    for error in validate(doc):
        assert isinstance(error.field, str) and error.message
