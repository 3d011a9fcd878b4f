"""Flows in PostgreSQL (migration 0003): drafts, published versions, numbers, notices.

    flows = FlowStore(store)
    flow_id = await flows.create("Shop", doc, by="supervisor")
    await flows.update_draft(flow_id, doc2, by="supervisor")
    version = await flows.publish(flow_id, by="supervisor", comment="new menu")
    await flows.map_number("hotline", flow_id)
    live = await flows.live_version_for("sip:hotline@10.0.0.1")   # what a new call runs

Publishing validates the draft (`FlowInvalid` carries the errors) and adds an immutable
numbered version; rollback republishes an old version's document as a new version.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ivr.diff import FlowDiff, diff_docs
from ivr.validate import FlowError, validate


class FlowNotFound(LookupError):
    """No flow (or no such version of it)."""


class FlowInvalid(ValueError):
    """The document cannot be published; ``errors`` says why (the API answers 422)."""

    def __init__(self, errors: list[FlowError]) -> None:
        super().__init__(f"{len(errors)} problem(s) in the flow: {errors[0].message}")
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Flow:
    id: int
    name: str
    draft: dict[str, Any]
    updated_by: str | None
    updated_at: datetime
    published_version: int | None


@dataclass(frozen=True, slots=True)
class FlowVersion:
    flow_id: int
    version: int
    doc: dict[str, Any]
    published_by: str | None
    published_at: datetime
    comment: str
    source_version: int | None  # set by a rollback: the version it republished


@dataclass(frozen=True, slots=True)
class LiveFlow:
    """The version a new call on some number runs (and stays pinned to)."""

    flow_id: int
    name: str
    version: int
    doc: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Notice:
    name: str
    text: str
    translations: dict[str, str]
    active: bool
    updated_by: str | None
    updated_at: datetime


_FLOW = "id, name, draft, updated_by, updated_at, published_version"
_VERSION = "flow_id, version, doc, published_by, published_at, comment, source_version"
_NOTICE = "name, text, translations, active, updated_by, updated_at"


def number_keys(called: str) -> list[str]:
    """Mapping keys to try for a request-URI, most specific first.

    ``sip:hotline@10.0.0.1:5060;transport=udp`` -> ``["hotline", "sip:hotline@10.0.0.1:5060",
    "*"]``: the user part is what operators map; a whole URI tells two domains apart.
    """
    uri = called.strip().strip("<>").split(";", 1)[0]
    scheme, _, rest = uri.partition(":")
    user = rest.split("@", 1)[0] if "@" in rest else ""
    if scheme.lower() not in ("sip", "sips", "tel"):
        user = uri.split("@", 1)[0]
    if scheme.lower() == "tel":
        user = rest
    return [k for k in dict.fromkeys([user, uri, "*"]) if k]


class FlowStore:
    """Flows over the store's asyncpg pool."""

    def __init__(self, store: Any) -> None:
        self._pool = store.pool

    # -- drafts ---------------------------------------------------------------------------

    async def create(self, name: str, doc: dict[str, Any], *, by: str | None = None) -> int:
        """A new flow whose draft is ``doc``; returns its id. Drafts may be invalid."""
        flow_id: int = await self._pool.fetchval(
            "INSERT INTO ivr_flows (name, draft, updated_by) VALUES ($1, $2, $3) RETURNING id",
            name,
            doc,
            by,
        )
        return flow_id

    async def list(self) -> list[Flow]:
        rows = await self._pool.fetch(f"SELECT {_FLOW} FROM ivr_flows ORDER BY id")
        return [Flow(**dict(r)) for r in rows]

    async def get(self, flow_id: int) -> Flow:
        row = await self._pool.fetchrow(f"SELECT {_FLOW} FROM ivr_flows WHERE id = $1", flow_id)
        if row is None:
            raise FlowNotFound(f"no flow {flow_id}")
        return Flow(**dict(row))

    async def update_draft(
        self, flow_id: int, doc: dict[str, Any], *, by: str | None = None, name: str | None = None
    ) -> Flow:
        row = await self._pool.fetchrow(
            "UPDATE ivr_flows SET draft = $2, updated_by = $3, updated_at = now(),"
            f" name = coalesce($4, name) WHERE id = $1 RETURNING {_FLOW}",
            flow_id,
            doc,
            by,
            name,
        )
        if row is None:
            raise FlowNotFound(f"no flow {flow_id}")
        return Flow(**dict(row))

    async def delete(self, flow_id: int) -> None:
        await self._pool.execute("DELETE FROM ivr_flows WHERE id = $1", flow_id)

    # -- versions ---------------------------------------------------------------------------

    async def publish(self, flow_id: int, *, by: str | None = None, comment: str = "") -> int:
        """Publish the current draft as the next version; returns its number.

        Raises `FlowInvalid` when the draft does not validate.
        """
        flow = await self.get(flow_id)
        errors = validate(flow.draft)
        if errors:
            raise FlowInvalid(errors)
        return await self._add_version(flow_id, flow.draft, by, comment, None)

    async def rollback(
        self, flow_id: int, version: int, *, by: str | None = None, comment: str = ""
    ) -> int:
        """Republish ``version``'s document as a new version; returns the new number."""
        old = await self.version(flow_id, version)
        comment = comment or f"rollback to version {version}"
        return await self._add_version(flow_id, old.doc, by, comment, version)

    async def _add_version(
        self, flow_id: int, doc: dict[str, Any], by: str | None, comment: str, source: int | None
    ) -> int:
        async with self._pool.acquire() as conn, conn.transaction():
            # The row lock serializes publishes of one flow, so numbers never collide.
            locked = await conn.fetchval(
                "SELECT id FROM ivr_flows WHERE id = $1 FOR UPDATE", flow_id
            )
            if locked is None:
                raise FlowNotFound(f"no flow {flow_id}")
            number: int = await conn.fetchval(
                "SELECT coalesce(max(version), 0) + 1 FROM ivr_flow_versions WHERE flow_id = $1",
                flow_id,
            )
            await conn.execute(
                f"INSERT INTO ivr_flow_versions ({_VERSION})"
                " VALUES ($1, $2, $3, $4, now(), $5, $6)",
                flow_id,
                number,
                doc,
                by,
                comment,
                source,
            )
            await conn.execute(
                "UPDATE ivr_flows SET published_version = $2 WHERE id = $1", flow_id, number
            )
        return number

    async def versions(self, flow_id: int) -> builtins.list[FlowVersion]:
        """Every published version, newest first."""
        rows = await self._pool.fetch(
            f"SELECT {_VERSION} FROM ivr_flow_versions WHERE flow_id = $1 ORDER BY version DESC",
            flow_id,
        )
        return [FlowVersion(**dict(r)) for r in rows]

    async def version(self, flow_id: int, version: int) -> FlowVersion:
        row = await self._pool.fetchrow(
            f"SELECT {_VERSION} FROM ivr_flow_versions WHERE flow_id = $1 AND version = $2",
            flow_id,
            version,
        )
        if row is None:
            raise FlowNotFound(f"flow {flow_id} has no version {version}")
        return FlowVersion(**dict(row))

    async def diff(self, flow_id: int, old: int, new: int | None = None) -> FlowDiff:
        """Structural diff from version ``old`` to version ``new`` (None: the draft)."""
        before = (await self.version(flow_id, old)).doc
        after = (
            (await self.get(flow_id)).draft
            if new is None
            else (await self.version(flow_id, new)).doc
        )
        return diff_docs(before, after)

    # -- numbers ----------------------------------------------------------------------------

    async def map_number(self, number: str, flow_id: int, description: str = "") -> None:
        """Calls to ``number`` (request-URI user part, whole URI, or ``*``) run ``flow_id``."""
        await self._pool.execute(
            "INSERT INTO ivr_numbers (number, flow_id, description) VALUES ($1, $2, $3)"
            " ON CONFLICT (number) DO UPDATE SET flow_id = $2, description = $3",
            number,
            flow_id,
            description,
        )

    async def unmap_number(self, number: str) -> None:
        await self._pool.execute("DELETE FROM ivr_numbers WHERE number = $1", number)

    async def numbers(self) -> dict[str, int]:
        rows = await self._pool.fetch("SELECT number, flow_id FROM ivr_numbers ORDER BY number")
        return {r["number"]: r["flow_id"] for r in rows}

    async def live_version_for(self, called: str) -> LiveFlow | None:
        """The published version a new call to ``called`` runs, or None if none applies."""
        keys = number_keys(called)
        row = await self._pool.fetchrow(
            "SELECT f.id, f.name, v.version, v.doc FROM ivr_numbers n"
            " JOIN ivr_flows f ON f.id = n.flow_id"
            " JOIN ivr_flow_versions v ON v.flow_id = f.id AND v.version = f.published_version"
            " WHERE n.number = ANY($1::text[]) ORDER BY array_position($1::text[], n.number)"
            " LIMIT 1",
            keys,
        )
        if row is None:
            return None
        return LiveFlow(row["id"], row["name"], row["version"], row["doc"])

    # -- notices ----------------------------------------------------------------------------

    async def set_notice(
        self,
        name: str,
        text: str,
        *,
        active: bool = True,
        translations: dict[str, str] | None = None,
        by: str | None = None,
    ) -> None:
        await self._pool.execute(
            "INSERT INTO ivr_notices (name, text, translations, active, updated_by)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET text = $2,"
            " translations = $3, active = $4, updated_by = $5, updated_at = now()",
            name,
            text,
            translations or {},
            active,
            by,
        )

    async def notice(self, name: str) -> Notice | None:
        row = await self._pool.fetchrow(f"SELECT {_NOTICE} FROM ivr_notices WHERE name = $1", name)
        return None if row is None else Notice(**dict(row))

    async def notices(self) -> builtins.list[Notice]:
        rows = await self._pool.fetch(f"SELECT {_NOTICE} FROM ivr_notices ORDER BY name")
        return [Notice(**dict(r)) for r in rows]
