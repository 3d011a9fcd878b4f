"""Structural diff of two flow documents: nodes added, removed, and changed fields.

Works on plain JSON (a published version and a draft may each be invalid), comparing
nodes by id and fields by dotted path, so the editor can show "menu main: options.1.next
changed" rather than a text diff of the JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One leaf that differs; ``before``/``after`` are None where the path is absent."""

    path: str
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class FlowDiff:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: dict[str, list[FieldChange]] = field(default_factory=dict)
    document: list[FieldChange] = field(default_factory=list)  # name, start, variables...

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.document)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def diff_docs(old: Any, new: Any) -> FlowDiff:
    """What changed from ``old`` to ``new`` (both flow documents as JSON)."""
    old_nodes, new_nodes = _nodes(old), _nodes(new)
    changed = {}
    for node_id in new_nodes.keys() & old_nodes.keys():
        changes = list(_leaf_changes(old_nodes[node_id], new_nodes[node_id], ""))
        if changes:
            changed[node_id] = changes
    document = list(_leaf_changes(_top(old), _top(new), ""))
    return FlowDiff(
        added=[n for n in new_nodes if n not in old_nodes],
        removed=[n for n in old_nodes if n not in new_nodes],
        changed={n: changed[n] for n in new_nodes if n in changed},
        document=document,
    )


def _nodes(doc: Any) -> dict[str, Any]:
    nodes = doc.get("nodes") if isinstance(doc, dict) else None
    if not isinstance(nodes, list):
        return {}
    found: dict[str, Any] = {}
    for index, node in enumerate(nodes):
        key = node.get("id") if isinstance(node, dict) else None
        found.setdefault(key if isinstance(key, str) else f"#{index}", node)
    return found


def _top(doc: Any) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "nodes"} if isinstance(doc, dict) else {}


_ABSENT = object()


def _leaf_changes(before: Any, after: Any, path: str) -> Any:
    if isinstance(before, dict) and isinstance(after, dict):
        for key in [*before, *(k for k in after if k not in before)]:
            sub = f"{path}.{key}" if path else str(key)
            yield from _leaf_changes(before.get(key, _ABSENT), after.get(key, _ABSENT), sub)
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for i, (b, a) in enumerate(zip(before, after, strict=True)):
            yield from _leaf_changes(b, a, f"{path}.{i}" if path else str(i))
    elif before != after:
        yield FieldChange(path, _plain(before), _plain(after))


def _plain(value: Any) -> Any:
    return None if value is _ABSENT else value
