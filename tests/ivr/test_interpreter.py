"""The interpreter on simulated calls with a fake clock: every node kind and failure path."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ivr.demo import demo_flow_doc
from ivr.fakeclock import FakeClock
from ivr.simulate import SECONDS_PER_CHAR, SimulationResult, simulate

from .helpers import CLOSED, OPEN, VIP_PHONE, bye, flow, say, shop_crm


def events(result: SimulationResult, kind: str) -> list[dict[str, Any]]:
    return [e for e in result.events if e["type"] == kind]


def menu(**kw: Any) -> dict[str, Any]:
    return {
        "id": "m",
        "kind": "menu",
        "prompt": {"text": "Press 1 or say sales."},
        "retries": 1,
        "options": [{"digit": "1", "phrases": ["sales", "buy"], "next": "one"}],
        "fallback": "fb",
        **kw,
    }


MENU = flow(menu(), say("one", "Sales."), say("fb", "Fallback."))


async def test_say_then_flow_end_hangs_up() -> None:
    result = await simulate(flow(say("a", "Hello.", "b"), bye("b")), [])
    assert result.path == ["a", "b"] and result.prompts == ["Hello.", "Goodbye."]
    assert [e["type"] for e in result.events][-2:] == ["hangup", "ivr_end"]
    assert events(result, "node")[0] == {"t": 0.0, "type": "node", "id": "a", "kind": "say"}


async def test_menu_by_key_and_by_speech() -> None:
    assert (await simulate(MENU, ["1"])).path == ["m", "one"]
    result = await simulate(MENU, ["I want to buy something"])
    assert result.path == ["m", "one"]
    assert events(result, "speech")[0]["value"] == "1"


async def test_menu_no_input_then_no_match_exhausts_retries_to_fallback() -> None:
    result = await simulate(MENU, ["", "9"])
    assert result.path == ["m", "fb"]
    assert [e["type"] for e in result.events if e.get("node") == "m"] == [
        "noinput",
        "nomatch",
        "retries_exhausted",
    ]
    assert "Sorry, I did not hear anything." in result.prompts
    # the no-input timeout ran on the fake clock: 5 s after the prompt
    noinput = events(result, "noinput")[0]["t"]
    assert noinput == pytest.approx(5.0 + len("Press 1 or say sales.") * 0.06)


def collect(**kw: Any) -> dict[str, Any]:
    return {
        "id": "c",
        "kind": "collect",
        "prompt": {"text": "Your number?"},
        "variable": "num",
        "min_length": 3,
        "max_length": 6,
        "pattern": "^[0-9]+$",
        "retries": 1,
        "next": "ok",
        "fallback": "fb",
        **kw,
    }


COLLECT = flow(collect(), say("ok", "Got {num}."), say("fb", "Giving up."))


async def test_collect_digits_with_terminator_and_inter_digit_timeout() -> None:
    assert (await simulate(COLLECT, ["1234#"])).prompts[-1] == "Got 1234."
    result = await simulate(COLLECT, ["12", "3"])  # the gap did not end it: next key came
    assert result.variables["num"] == "123"
    assert (await simulate(COLLECT, ["1234567"])).variables["num"] == "123456"


async def test_collect_too_short_retries_then_falls_back() -> None:
    result = await simulate(COLLECT, ["1#", "2#"])
    assert result.path == ["c", "fb"]
    assert [e["type"] for e in result.events if e.get("node") == "c"] == [
        "invalid",
        "invalid",
        "retries_exhausted",
    ]


async def test_collect_by_speech_and_confirm_back() -> None:
    result = await simulate(COLLECT, ["one two three four"])
    assert result.variables["num"] == "1234"
    confirming = flow(collect(confirm=True), say("ok", "Got {num}."), say("fb", "No."))
    result = await simulate(confirming, ["555#", "2", "777#", "yes"])
    assert result.variables["num"] == "777"
    assert "You entered 5 5 5. Press 1 if that is right, or 2 to enter it again." in result.prompts


def lookup(**kw: Any) -> dict[str, Any]:
    return {
        "id": "l",
        "kind": "lookup",
        "action": "order_by_number",
        "order_variable": "num",
        "next": "found",
        "not_found": "nf",
        "failure": "down",
        **kw,
    }


LOOKUP = flow(
    collect(next="l"),
    lookup(),
    say("found", "Status {order.status}."),
    say("nf", "Unknown."),
    say("down", "Later."),
    say("ok", "x"),
    say("fb", "y"),
)


async def test_lookup_speaks_the_order_status() -> None:
    clock = FakeClock()
    result = await simulate(LOOKUP, ["100234"], crm=shop_crm(clock), clock=clock)
    assert result.path == ["c", "l", "found"]
    assert "Your order 1 0 0 2 3 4" in result.prompts[1] and "shipped" in result.prompts[1]
    assert result.prompts[2] == "Status shipped."
    assert events(result, "lookup")[-1]["outcome"] == "found"


async def test_lookup_not_found() -> None:
    clock = FakeClock()
    result = await simulate(LOOKUP, ["999999"], crm=shop_crm(clock), clock=clock)
    assert result.path == ["c", "l", "nf"] and "Sorry, I could not find that." in result.prompts


async def test_slow_crm_gets_one_moment_then_times_out_within_two_seconds() -> None:
    clock = FakeClock()
    result = await simulate(LOOKUP, ["100234"], crm=shop_crm(clock, delay=10.0), clock=clock)
    assert result.path == ["c", "l", "down"]
    [entered] = [e["t"] for e in events(result, "node") if e["id"] == "l"]
    one_moment = next(e["t"] for e in events(result, "prompt") if e["text"] == "One moment please.")
    failure = next(e for e in events(result, "lookup") if e.get("node") == "l")
    assert one_moment - entered == pytest.approx(1.0)  # no silence longer than that
    # gave up at the 2 s budget; only the end of "one moment" (not cut mid-word) delays it
    spoken_ms = len("One moment please.") * SECONDS_PER_CHAR * 1000
    assert failure["outcome"] == "timeout" and failure["wait_ms"] <= 1000 + spoken_ms
    assert "Sorry, I cannot look that up right now." in result.prompts


async def test_fast_enough_crm_says_no_one_moment_and_failing_crm_falls_back() -> None:
    clock = FakeClock()
    result = await simulate(LOOKUP, ["100234"], crm=shop_crm(clock, delay=0.5), clock=clock)
    assert "One moment please." not in result.prompts and result.path[-1] == "found"
    clock = FakeClock()
    result = await simulate(LOOKUP, ["100234"], crm=shop_crm(clock, fail=True), clock=clock)
    assert result.path[-1] == "down" and events(result, "lookup")[-1]["outcome"] == "error"


def branch(*rules: dict[str, Any]) -> dict[str, Any]:
    return flow(
        {
            "id": "b",
            "kind": "branch",
            "rules": [{"when": r, "next": "yes"} for r in rules],
            "otherwise": "no",
        },
        say("yes", "Yes."),
        say("no", "No."),
    )


HOURS = {
    "kind": "business_hours",
    "timezone": "Europe/Warsaw",
    "weekly": {"tue": ["08:00-20:00"]},
    "holidays": ["2026-12-01"],
}


@pytest.mark.parametrize(
    ("now", "expected"),
    [(OPEN, "yes"), (CLOSED, "no"), (datetime(2026, 12, 1, 11, 0, tzinfo=UTC), "no")],
    ids=["open", "night", "holiday"],
)
async def test_branch_on_business_hours(now: datetime, expected: str) -> None:
    assert (await simulate(branch(HOURS), [], now=now)).path == ["b", expected]


async def test_branch_on_vip_crm_flag_language_and_variables() -> None:
    clock = FakeClock()
    crm = shop_crm(clock)
    vip = await simulate(
        branch({"kind": "vip"}), [], crm=crm, caller=f"sip:{VIP_PHONE}@x", clock=clock
    )
    assert vip.path == ["b", "yes"] and vip.variables["crm.name"] == "Katarzyna Nowak"
    clock = FakeClock()
    flag = branch({"kind": "crm_flag", "flag": "region", "equals": "pomorskie"})
    assert (
        await simulate(flag, [], crm=shop_crm(clock), caller=f"sip:{VIP_PHONE}@x", clock=clock)
    ).path[-1] == "yes"
    assert (await simulate(branch({"kind": "vip"}), [])).path == ["b", "no"]  # no CRM at all
    assert (await simulate(branch({"kind": "language", "equals": "en"}), [])).path[-1] == "yes"
    var = branch({"kind": "variable", "name": "tries", "op": "gt", "value": 2})
    assert (await simulate({**var, "variables": {"tries": 3}}, [])).path[-1] == "yes"


async def test_set_language_and_translated_prompts() -> None:
    doc = flow(
        {"id": "s", "kind": "set", "values": {"who": "Ada", "n": 3}, "next": "l"},
        {"id": "l", "kind": "language", "language": "pl", "next": "a"},
        say("a", "Hello {who}."),
    )
    doc["nodes"][2]["prompt"]["translations"] = {"pl": "Cześć {who}."}
    result = await simulate(doc, [])
    assert result.prompts == ["Cześć Ada."] and result.variables["n"] == 3
    assert events(result, "prompt")[0]["language"] == "pl"


async def test_announce_plays_an_active_notice_only() -> None:
    doc = flow({"id": "n", "kind": "announce", "notice": "storm", "next": "a"}, say("a", "Menu."))
    assert (await simulate(doc, [], notices={"storm": "Storm delays."})).prompts[0] == (
        "Storm delays."
    )
    assert (await simulate(doc, [])).prompts == ["Menu."]
    only_vips = flow(
        {
            "id": "n",
            "kind": "announce",
            "prompt": {"text": "VIP news."},
            "when": {"kind": "vip"},
            "next": "a",
        },
        say("a", "Menu."),
    )
    assert (await simulate(only_vips, [])).prompts == ["Menu."]


QUEUE = flow(
    {
        "id": "q",
        "kind": "queue",
        "queue": "orders",
        "skills": {"orders": 1},
        "next": "s",
        "no_agents": "nobody",
    },
    {"id": "s", "kind": "survey", "next": "bye"},
    say("nobody", "Sorry."),
    bye(),
)


async def test_queue_answered_then_survey_by_key_and_by_voice() -> None:
    result = await simulate(QUEUE, ["4"], queue_outcome="answered")
    assert result.path == ["q", "s", "bye"]
    assert events(result, "queue")[0] == {
        **events(result, "queue")[0],
        "queue": "orders",
        "priority": 0,
    }
    assert events(result, "survey") == [
        {"t": events(result, "survey")[0]["t"], "type": "survey", "score": 4, "by": "dtmf"}
    ]
    spoken = await simulate(QUEUE, ["five"], queue_outcome="answered")
    assert spoken.variables["survey.score"] == 5
    silent = await simulate(QUEUE, ["", ""], queue_outcome="answered")
    assert events(silent, "survey")[-1]["score"] is None and silent.path[-1] == "bye"


async def test_queue_without_acd_says_busy_and_takes_no_agents_edge() -> None:
    result = await simulate(QUEUE, [])
    assert result.path == ["q", "nobody"] and "All our agents are busy." in result.prompts
    assert events(result, "queue_result")[0]["outcome"] == "unavailable"


async def test_queue_without_edge_offers_voicemail_or_callback() -> None:
    doc = flow({"id": "q", "kind": "queue", "queue": "orders"})
    result = await simulate(doc, ["2", "1"], caller="sip:+48 601 000 002@x")
    assert events(result, "callback")[0]["number"] == "+48601000002"
    result = await simulate(doc, ["1", "Please call me about my parcel", "#"])
    assert events(result, "voicemail")[0]["path"] == "simulated.wav"


async def test_vip_priority_is_boosted() -> None:
    clock = FakeClock()
    doc = flow(
        {
            "id": "q",
            "kind": "queue",
            "queue": "orders",
            "priority": 5,
            "vip_boost": 10,
            "next": "bye",
        },
        bye(),
    )
    result = await simulate(
        doc,
        [],
        crm=shop_crm(clock),
        caller=f"sip:{VIP_PHONE}@x",
        queue_outcome="answered",
        clock=clock,
    )
    assert events(result, "queue")[0]["priority"] == 15


async def test_transfer_without_refer_support_says_so_and_ends() -> None:
    doc = flow({"id": "t", "kind": "transfer", "target": "sip:desk@partner.example"})
    result = await simulate(doc, [])
    assert events(result, "transfer")[0] == {
        **events(result, "transfer")[0],
        "outcome": "unsupported",
    }
    assert result.prompts[-1] == "Sorry, I cannot transfer your call right now."


async def test_callback_with_a_keyed_number_and_voicemail_node() -> None:
    doc = flow(
        {"id": "cb", "kind": "callback", "next": "vm"},
        {"id": "vm", "kind": "voicemail", "next": "bye"},
        bye(),
    )
    result = await simulate(doc, ["601234567#", "Hi it is me", "#"])
    assert result.variables["callback_number"] == "601234567"
    assert result.path == ["cb", "vm", "bye"] and result.variables["voicemail.path"]


async def test_caller_hangup_stops_the_flow() -> None:
    result = await simulate(MENU, [{"hangup": True}])
    assert result.path == ["m"] and result.reason == "caller_hangup"


async def test_simulation_of_a_looping_draft_stops() -> None:
    result = await simulate(flow(say("a", "A", "b"), say("b", "B", "a")), [])
    assert result.reason == "step_limit" and result.warnings


# -- the demo flow -----------------------------------------------------------------------------


async def test_demo_order_status_by_keys() -> None:
    clock = FakeClock()
    result = await simulate(
        demo_flow_doc(), ["1", "1", "100234#", "2", ""], crm=shop_crm(clock), now=OPEN, clock=clock
    )
    assert result.path[:11] == [
        "welcome",
        "polish_hint",
        "choose_language",
        "english",
        "vip_check",
        "hours",
        "notice",
        "main_menu",
        "order_choice",
        "ask_order",
        "order_lookup",
    ]
    assert any("1 0 0 2 3 4" in p and "shipped" in p for p in result.prompts)


async def test_demo_order_status_by_speech() -> None:
    clock = FakeClock()
    script = ["english", "where is my order", "one zero zero two three four"]
    result = await simulate(demo_flow_doc(), script, crm=shop_crm(clock), now=OPEN, clock=clock)
    assert "order_lookup" in result.path and result.variables["order.status"] == "shipped"


async def test_demo_vip_greeted_by_name_in_polish_and_confirms_latest_order() -> None:
    clock = FakeClock()
    result = await simulate(
        demo_flow_doc(),
        ["2", "1", "1"],
        crm=shop_crm(clock),
        now=OPEN,
        caller=f"sip:{VIP_PHONE}@x",
        clock=clock,
    )
    assert "vip_greeting" in result.path and "latest_status" in result.path
    assert any("Katarzyna Nowak" in p for p in result.prompts)
    assert events(result, "language")[0]["language"] == "pl"


async def test_demo_closed_offers_callback() -> None:
    result = await simulate(
        demo_flow_doc(), ["1", "2", "1"], now=CLOSED, caller="sip:+48601000002@x"
    )
    assert "closed_menu" in result.path and result.variables["callback_number"] == "+48601000002"
