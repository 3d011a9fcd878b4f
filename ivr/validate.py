"""The flow validator: every problem of a flow document, each naming its node and field.

``validate(doc)`` never raises, whatever JSON it gets: it answers a list of `FlowError`
(empty when the flow can be published). Checks, in order:

1. shape: unknown node kinds or fields, wrong types (pydantic's errors, translated to the
   node id and a dotted field path);
2. graph: duplicate ids, a missing start, edges to missing nodes, unreachable nodes,
   menus without a fallback or options, branches without an ``otherwise``;
3. prompts with neither text nor file;
4. loops that can spin without caller input (a cycle through no input-taking node);
5. variables read (``{placeholders}``, conditions, look-up inputs) on some path before any
   node sets them (a must-be-set dataflow over the edges).

The graph checks run only once every node parsed, so one typo does not cascade.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import ValidationError

from ivr.schema import (
    INPUT_KINDS,
    NODE_ADAPTER,
    NODE_KINDS,
    AnnounceNode,
    BranchNode,
    CollectNode,
    FlowDoc,
    MenuNode,
    Prompt,
    VariableCondition,
)

#: variables every call starts with; ``crm.*`` holds the caller's CRM record (empty if none)
BUILTINS = frozenset({"caller", "called", "call_id", "language", "vip", "crm.*"})
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\}")
_CONDITION_KINDS = frozenset({"vip", "language", "variable", "crm_flag", "business_hours"})


@dataclass(frozen=True, slots=True)
class FlowError:
    """One problem: ``node_id`` (None for the document itself), a dotted ``field``, why."""

    node_id: str | None
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def validate(doc: Any) -> list[FlowError]:
    """Every problem of the flow ``doc`` (any JSON value); [] when it is publishable."""
    if isinstance(doc, FlowDoc):
        doc = doc.model_dump(mode="json")
    if not isinstance(doc, dict):
        return [FlowError(None, "", "a flow document is a JSON object")]
    errors = _shape_errors(doc)
    if errors:
        return errors
    flow = FlowDoc.model_validate(doc)
    return list(_graph_errors(flow))


def placeholders(text: str) -> list[str]:
    """The ``{variable}`` names a prompt text reads."""
    return _PLACEHOLDER.findall(text)


# -- 1. shape ------------------------------------------------------------------------------


def _shape_errors(doc: dict[Any, Any]) -> list[FlowError]:
    errors: list[FlowError] = []
    nodes = doc.get("nodes", [])
    if not isinstance(nodes, list):
        return [FlowError(None, "nodes", "nodes must be a list of node objects")]
    try:
        FlowDoc.model_validate({**doc, "nodes": []})
    except ValidationError as exc:
        errors += [FlowError(None, _dotted(e["loc"]), e["msg"]) for e in exc.errors()]
    for index, raw in enumerate(nodes):
        errors += _node_shape_errors(index, raw)
    return errors


def _node_shape_errors(index: int, raw: Any) -> list[FlowError]:
    if not isinstance(raw, dict):
        return [FlowError(None, f"nodes.{index}", "a node is a JSON object")]
    node_id = raw.get("id") if isinstance(raw.get("id"), str) and raw.get("id") else None
    kind = raw.get("kind")
    if not isinstance(kind, str) or kind not in NODE_KINDS:
        message = f"unknown node kind {kind!r}; one of {', '.join(NODE_KINDS)}"
        return [FlowError(node_id, "kind", message)]
    try:
        NODE_ADAPTER.validate_python(raw)
    except ValidationError as exc:
        return [FlowError(node_id, _node_field(e["loc"], kind), e["msg"]) for e in exc.errors()]
    return []


def _node_field(loc: tuple[Any, ...], kind: str) -> str:
    parts = list(loc[1:] if loc[:1] == (kind,) else loc)
    # Discriminated unions put the tag in the path ("when.vip.equals"); the editor
    # knows fields, not tags.
    cleaned = [
        p
        for i, p in enumerate(parts)
        if not (i and parts[i - 1] == "when" and p in _CONDITION_KINDS)
    ]
    return _dotted(cleaned) or "kind"


def _dotted(loc: Iterable[Any]) -> str:
    return ".".join(str(p) for p in loc if p != "[key]")


# -- 2-5. graph ----------------------------------------------------------------------------


def _graph_errors(flow: FlowDoc) -> Iterator[FlowError]:
    nodes = flow.node_map()
    seen: set[str] = set()
    for node in flow.nodes:
        if node.id in seen:
            yield FlowError(node.id, "id", f"another node already has the id {node.id!r}")
        seen.add(node.id)
    start = start_id(flow)
    if not flow.nodes:
        yield FlowError(None, "nodes", "the flow has no nodes")
        return
    if start not in nodes:
        yield FlowError(None, "start", f"the start node {start!r} does not exist")
        return
    yield from _edge_errors(flow, nodes)
    yield from _prompt_errors(flow)
    reachable = _reachable(start, nodes)
    for node in flow.nodes:
        if node.id not in reachable:
            yield FlowError(node.id, "id", "no path from the start reaches this node")
    yield from _loop_errors(flow, nodes, reachable)
    yield from _dataflow_errors(flow, nodes, start, reachable)


def start_id(flow: FlowDoc) -> str:
    """The start node: ``start``, or the first node when it is empty."""
    return flow.start or (flow.nodes[0].id if flow.nodes else "")


def _edge_errors(flow: FlowDoc, nodes: dict[str, Any]) -> Iterator[FlowError]:
    for node in flow.nodes:
        for field, target in node.edges():
            if target not in nodes:
                yield FlowError(node.id, field, f"goes to {target!r}, which does not exist")
        if isinstance(node, MenuNode):
            yield from _menu_errors(node)
        if isinstance(node, BranchNode):
            yield from _branch_errors(node)


def _menu_errors(menu: MenuNode) -> Iterator[FlowError]:
    if not menu.fallback:
        yield FlowError(menu.id, "fallback", "a menu needs a fallback for its last retry")
    if not menu.options:
        yield FlowError(menu.id, "options", "a menu needs at least one option")
    digits: set[str] = set()
    for i, option in enumerate(menu.options):
        if option.digit is None and not option.phrases:
            yield FlowError(menu.id, f"options.{i}", "an option needs a digit or a phrase")
        if not option.next:
            yield FlowError(menu.id, f"options.{i}.next", "the option leads nowhere")
        if option.digit is not None and option.digit in digits:
            yield FlowError(menu.id, f"options.{i}.digit", f"digit {option.digit} is used twice")
        if option.digit is not None:
            digits.add(option.digit)


def _branch_errors(branch: BranchNode) -> Iterator[FlowError]:
    if not branch.otherwise:
        yield FlowError(branch.id, "otherwise", "a branch needs an 'otherwise' node")
    for i, rule in enumerate(branch.rules):
        if not rule.next:
            yield FlowError(branch.id, f"rules.{i}.next", "the rule leads nowhere")


def _prompt_errors(flow: FlowDoc) -> Iterator[FlowError]:
    for node in flow.nodes:
        if isinstance(node, AnnounceNode) and not node.notice and node.prompt is None:
            yield FlowError(node.id, "notice", "an announcement needs a notice or a prompt")
            continue
        for field, prompt in node.prompts():
            if not prompt.text.strip() and not prompt.file.strip():
                yield FlowError(node.id, f"{field}.text", "the prompt has no text and no file")


def _reachable(start: str, nodes: dict[str, Any]) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for _, target in nodes[todo.pop()].edges():
            if target in nodes and target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _loop_errors(flow: FlowDoc, nodes: dict[str, Any], reachable: set[str]) -> Iterator[FlowError]:
    # A cycle can spin without the caller iff it stays among nodes that never wait for
    # input: look for cycles in that subgraph, one report per strongly connected part.
    quiet = {n for n in reachable if nodes[n].kind not in INPUT_KINDS}
    reach = {n: _reachable_within(n, nodes, quiet) for n in quiet}
    reported: set[str] = set()
    for node in flow.nodes:
        if node.id not in quiet or node.id in reported or node.id not in reach[node.id]:
            continue
        part = [m.id for m in flow.nodes if m.id in reach[node.id] and node.id in reach[m.id]]
        reported.update(part)
        cycle = " -> ".join([*part, part[0]])
        yield FlowError(node.id, "next", f"loop {cycle} can repeat without the caller's input")


def _reachable_within(start: str, nodes: dict[str, Any], allowed: set[str]) -> set[str]:
    """Nodes reachable from ``start`` in one or more steps, staying inside ``allowed``."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for _, target in nodes[todo.pop()].edges():
            if target in allowed and target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


# -- 5. variables ---------------------------------------------------------------------------


def _dataflow_errors(
    flow: FlowDoc, nodes: dict[str, Any], start: str, reachable: set[str]
) -> Iterator[FlowError]:
    defined = _must_be_set(flow, nodes, start, reachable)
    for node in flow.nodes:
        known = defined.get(node.id)
        if known is None:
            continue
        for field, name in reads(node):
            if not is_set(name, known):
                message = f"variable {name!r} may be read before any node sets it"
                yield FlowError(node.id, field, message)


def _must_be_set(
    flow: FlowDoc, nodes: dict[str, Any], start: str, reachable: set[str]
) -> dict[str, frozenset[str]]:
    """For each reachable node, the variables set on every path from the start to it."""
    initial = BUILTINS | set(flow.variables)
    state: dict[str, frozenset[str]] = {start: frozenset(initial)}
    todo = [start]
    while todo:
        node = nodes[todo.pop()]
        for field, target in node.edges():
            if target not in reachable:
                continue
            out = state[node.id] | writes(node, field)
            merged = out if target not in state else state[target] & out
            if merged != state.get(target):
                state[target] = merged
                todo.append(target)
    return state


def is_set(name: str, known: Iterable[str]) -> bool:
    """Is ``name`` among ``known`` (which may hold ``prefix.*`` wildcards)?"""
    known = set(known)
    if name in known:
        return True
    parts = name.split(".")
    return any(".".join(parts[:i]) + ".*" in known for i in range(1, len(parts)))


def writes(node: Any, edge: str) -> frozenset[str]:
    """The variables ``node`` has set when it leaves by ``edge``."""
    kind = node.kind
    if kind == "set":
        return frozenset(node.values)
    if kind == "queue":
        return frozenset({"queue.outcome"})
    if edge != "next":
        return frozenset()
    by_kind = {
        "collect": lambda: {node.variable},
        "callback": lambda: {node.variable},
        "lookup": lambda: {f"{node.store_as}.*", "crm.*"},
        "survey": lambda: {"survey.score"},
        "voicemail": lambda: {"voicemail.path"},
    }
    make = by_kind.get(kind)
    return frozenset(make()) if make else frozenset()


def reads(node: Any) -> list[tuple[str, str]]:
    """(field, variable) for every variable ``node`` reads when it runs."""
    found: list[tuple[str, str]] = []
    for field, prompt in node.prompts():
        found += _prompt_reads(field, prompt, node)
    if node.kind == "set":
        for key, value in node.values.items():
            if isinstance(value, str):
                found += [(f"values.{key}", name) for name in placeholders(value)]
    if node.kind == "branch":
        for i, rule in enumerate(node.rules):
            if isinstance(rule.when, VariableCondition):
                found.append((f"rules.{i}.when.name", rule.when.name))
    if node.kind == "announce" and isinstance(node.when, VariableCondition):
        found.append(("when.name", node.when.name))
    if node.kind == "lookup" and node.action == "order_by_number":
        found.append(("order_variable", node.order_variable))
    return found


def _prompt_reads(field: str, prompt: Prompt, node: Any) -> list[tuple[str, str]]:
    texts = [("text", prompt.text)]
    texts += [(f"translations.{k}", v) for k, v in prompt.translations.items()]
    local = {"value"} if isinstance(node, CollectNode) and field == "confirm_prompt" else set()
    return [
        (f"{field}.{where}", name)
        for where, text in texts
        for name in placeholders(text)
        if name not in local
    ]
