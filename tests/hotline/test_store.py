"""Repositories over a real PostgreSQL: call records, registrations, SIP and web users."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hotline.store import Binding, Store, compute_ha1
from hotline.store.demo import seed_demo

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


async def test_call_round_trip(store: Store) -> None:
    calls = store.calls
    call = await calls.create("abc@host", "sip:+4912345@trunk", "sip:hotline@pbx", "Ann", T0)
    record = await calls.get(call)
    assert record is not None
    assert (record.call_id, record.from_uri, record.to_uri) == (
        "abc@host", "sip:+4912345@trunk", "sip:hotline@pbx"
    )  # fmt: skip
    assert (record.from_display, record.direction, record.state) == ("Ann", "inbound", "ringing")
    assert (record.started_at, record.answered_at, record.ended_at) == (T0, None, None)
    assert (record.quality, record.events, record.node) == ({}, [], None)

    await calls.mark_answered(call, T0 + timedelta(seconds=3))
    await calls.merge_quality(call, {"loss": 0.01})
    await calls.merge_quality(call, {"jitter_ms": 4.5})
    assert await calls.end(call, T0 + timedelta(seconds=60), "caller hung up")
    assert not await calls.end(call, T0 + timedelta(seconds=61), "again")

    record = await calls.get(call)
    assert record is not None
    assert record.state == "ended"
    assert record.answered_at == T0 + timedelta(seconds=3)
    assert record.ended_at == T0 + timedelta(seconds=60)
    assert record.end_reason == "caller hung up"
    assert record.quality == {"loss": 0.01, "jitter_ms": 4.5}


async def test_events_keep_their_order(store: Store) -> None:
    call = await store.calls.create("order@host", "sip:a@x", "sip:b@y", None, T0, node="n1")
    for i in range(5):
        at = T0 + timedelta(seconds=i)
        await store.calls.append_event(call, {"t": at, "type": "dtmf", "digit": str(i)})
    await store.calls.append_event(call, {"type": "hangup", "by": "caller"})
    record = await store.calls.get(call)
    assert record is not None and record.node == "n1"
    events = record.events
    assert [e["type"] for e in events] == ["dtmf"] * 5 + ["hangup"]
    assert [e.get("digit") for e in events[:5]] == ["0", "1", "2", "3", "4"]
    assert events[0]["t"] == T0.isoformat()
    assert datetime.fromisoformat(events[5]["t"]) > T0  # defaulted to now


async def test_recent_is_newest_first(store: Store) -> None:
    ids = [
        await store.calls.create(f"c{i}", "sip:a@x", "sip:b@y", None, T0 + timedelta(minutes=i))
        for i in range(4)
    ]
    recent = await store.calls.recent(3)
    assert [r.id for r in recent] == ids[::-1][:3]
    assert await store.calls.get(10**9) is None


async def test_registrations(store: Store) -> None:
    regs = store.registrations
    aor = "sip:1001@hotline"
    a = Binding(aor, "<sip:1001@10.0.0.5:5060>", T0 + timedelta(seconds=3600), "cid", 1, "Phone")
    b = Binding(aor, "<sip:1001@10.0.0.6:5060>", T0 + timedelta(seconds=60), "cid2", 7)
    await regs.upsert(a)
    await regs.upsert(b)
    assert await regs.bindings(aor, T0) == [a, b]

    refreshed = Binding(aor, b.contact, T0 + timedelta(seconds=7200), "cid2", 8, None, "10.0.0.6")
    await regs.upsert(refreshed)
    assert await regs.bindings(aor, T0) == [refreshed, a]

    assert await regs.bindings(aor, T0 + timedelta(seconds=3600)) == [refreshed]
    assert await regs.purge_expired(T0 + timedelta(seconds=3600)) == 1
    assert await regs.delete(aor, refreshed.contact)
    assert not await regs.delete(aor, refreshed.contact)
    await regs.upsert(a)
    assert await regs.delete_all(aor) == 1
    assert await regs.bindings(aor, T0) == []


def test_ha1_matches_rfc_2617_example() -> None:
    # RFC 2617 section 3.5: HA1 of Mufasa / testrealm@host.com / "Circle Of Life".
    ha1 = compute_ha1("MD5", "Mufasa", "testrealm@host.com", "Circle Of Life")
    assert ha1 == "939e7578ed9e3c518a452acee763bce9"


async def test_sip_users(store: Store) -> None:
    assert await store.sip_users.add_user("1001", "hotline", "secret", "Desk 1")
    user = await store.sip_users.get("1001", "hotline")
    assert user is not None
    assert user.ha1("MD5") == compute_ha1("MD5", "1001", "hotline", "secret")
    assert user.ha1("sha-256-sess") == compute_ha1("SHA-256", "1001", "hotline", "secret")
    assert user.display_name == "Desk 1"
    assert await store.sip_users.get("1001", "other-realm") is None

    assert not await store.sip_users.add_user("1001", "hotline", "other", replace=False)
    assert await store.sip_users.add_user("1001", "hotline", "changed")
    changed = await store.sip_users.get("1001", "hotline")
    assert changed is not None
    assert changed.ha1_md5 == compute_ha1("MD5", "1001", "hotline", "changed")
    assert [u.username for u in await store.sip_users.all()] == ["1001"]
    assert await store.sip_users.delete("1001")


async def test_web_users_authenticate(store: Store) -> None:
    assert await store.users.add_user("ann", "pa55word", "agent")
    user = await store.users.authenticate("ann", "pa55word")
    assert user is not None and (user.username, user.role) == ("ann", "agent")
    assert await store.users.authenticate("ann", "wrong") is None
    assert await store.users.authenticate("nobody", "pa55word") is None
    stored = await store.pool.fetchval("SELECT password_hash FROM users WHERE username = 'ann'")
    assert stored.startswith("scrypt$") and "pa55word" not in stored


async def test_seed_demo_is_idempotent(store: Store) -> None:
    await seed_demo(store)
    await store.users.add_user("supervisor", "changed-by-operator", "supervisor")
    await seed_demo(store)
    assert await store.users.authenticate("supervisor", "changed-by-operator") is not None
    assert await store.pool.fetchval("SELECT count(*) FROM users") == 1
    phone = await store.sip_users.get("1002", "hotline")
    assert phone is not None
    assert phone.ha1_sha256 == compute_ha1("SHA-256", "1002", "hotline", "1002pass")
    assert [u.username for u in await store.sip_users.all()] == ["1001", "1002"]
