"""The SIP server's storage seams backed by the real store."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from hotline.sip_wiring import RECORD_ID, StoreCallRecords, StoreDirectory, WiredSipService
from hotline.store import Store, compute_ha1


@dataclass(frozen=True, slots=True)
class SipBinding:
    """Shaped like media.sip.registrar.Binding (epoch-second expiry)."""

    aor: str
    contact: str
    expires_at: float
    call_id: str
    cseq: int
    received: str | None = None
    user_agent: str | None = None


@dataclass
class FakeSession:
    call_id: str
    invite: Any
    app: dict[str, Any] = field(default_factory=dict)


def session(call_id: str) -> FakeSession:
    invite = SimpleNamespace(
        from_=SimpleNamespace(uri="sip:+4930123@trunk", display="Bob"),
        to=SimpleNamespace(uri="sip:hotline@127.0.0.1"),
    )
    return FakeSession(call_id, invite)


async def test_call_records_are_written_in_order(store: Store) -> None:
    records = StoreCallRecords(store, node="test-node")
    writer = asyncio.create_task(records.run())
    call = session("c1@x")
    t0 = time.time()
    records.call_started(call, t0)
    records.call_answered(call, t0 + 1)
    records.call_event(call, {"type": "dtmf", "digit": "5"})
    records.call_event(call, {"type": "hangup", "reason": "remote_bye"})
    records.call_ended(call, t0 + 9, "remote_bye")
    await asyncio.wait_for(records.drain(), 5)
    writer.cancel()

    record = await store.calls.get(call.app[RECORD_ID].id)
    assert record is not None
    assert (record.call_id, record.from_uri, record.from_display) == (
        "c1@x",
        "sip:+4930123@trunk",
        "Bob",
    )
    assert (record.state, record.end_reason, record.node) == ("ended", "remote_bye", "test-node")
    assert abs(record.started_at.timestamp() - t0) < 1e-3
    assert [e["type"] for e in record.events] == ["dtmf", "hangup"]


async def test_refused_record_does_not_hold_back_others(store: Store) -> None:
    """PostgreSQL refuses text with NUL bytes: only that call's writes are dropped."""
    records = StoreCallRecords(store)
    writer = asyncio.create_task(records.run())
    broken = session("c2@x")
    broken.invite.from_.display = "nul\x00byte"
    records.call_started(broken, time.time())
    records.call_event(broken, {"type": "dtmf", "digit": "1"})
    good = session("c3@x")
    records.call_started(good, time.time())
    records.call_event(good, {"type": "dtmf", "digit": "2"})
    await asyncio.wait_for(records.drain(), 5)
    writer.cancel()
    assert broken.app[RECORD_ID].id is None
    [record] = await store.calls.recent()
    assert (record.call_id, [e["digit"] for e in record.events]) == ("c3@x", ["2"])


async def test_directory(store: Store) -> None:
    directory = StoreDirectory(store, SipBinding)
    await store.sip_users.add_user("1001", "hotline", "pw")
    assert await directory.ha1("1001", "hotline", "SHA-256") == compute_ha1(
        "SHA-256", "1001", "hotline", "pw"
    )
    assert await directory.ha1("1001", "hotline", "SHA-512-256") is None
    assert await directory.ha1("nobody", "hotline", "MD5") is None

    aor = "sip:1001@hotline"
    now = time.time()
    keep = SipBinding(aor, "sip:1001@10.0.0.5:5060", now + 3600, "cid", 2, "10.0.0.5:5060", "UA")
    gone = SipBinding(aor, "sip:1001@10.0.0.9:5060", now + 60, "cid", 1)
    await directory.save_bindings(aor, [keep, gone], [])
    await directory.save_bindings(aor, [], [gone])
    [stored] = await directory.bindings(aor)
    assert stored == SipBinding(
        aor, keep.contact, stored.expires_at, "cid", 2, "10.0.0.5:5060", "UA"
    )
    assert abs(stored.expires_at - keep.expires_at) < 1e-3


class FakeServer:
    def __init__(self, records: StoreCallRecords) -> None:
        self.records = records
        self.call = session("c4@x")

    async def start(self) -> None:
        self.records.call_started(self.call, time.time())

    async def stop(self) -> None:
        # Like the real server: hanging up at shutdown produces the last records.
        self.records.call_ended(self.call, time.time(), "shutdown")

    def status(self) -> dict[str, Any]:
        return {"listening": True}


async def test_wired_service_writes_last_records_before_stopping(store: Store) -> None:
    records = StoreCallRecords(store)
    server = FakeServer(records)
    service = WiredSipService(server, records)
    await service.start()
    assert service.status() == {"listening": True}
    await service.stop()
    record = await store.calls.get(server.call.app[RECORD_ID].id)
    assert record is not None and record.end_reason == "shutdown"
