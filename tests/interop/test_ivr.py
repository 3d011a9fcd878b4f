"""The IVR end to end: baresip calls the demo shop flow on a real server.

Keys: 1 (English), 1 (order status), the demo order number: the call record shows the
path and a ``prompt`` event with the spoken status from the CRM. Speech: the same with
baresip speaking like a person (after the prompt, as it hears it): espeak-ng's "order
status", Asterisk's recorded digits of the order number; a known customer's "yes" to
the offer of their latest order. Publishing during a live call: that call keeps its
version, the next call takes the new one.
"""

from __future__ import annotations

import asyncio
import copy
import subprocess
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from asr.audio import join, read_wav, silence
from crm_bridge.demo import DEMO_CUSTOMER_PHONE, DEMO_ORDER_DELIVERED, DEMO_ORDER_SHIPPED
from crm_bridge.speech import spell_digits
from hotline.app import Hotline
from hotline.store import CallRecord
from ivr.demo import DEMO_FLOW_NAME, demo_flow_doc
from ivr.store import FlowStore

from .baresip import Baresip
from .conftest import free_port, wait_for

pytestmark = pytest.mark.peer

ALWAYS_OPEN = {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def open_all_week(doc: dict[str, Any], main_menu_text: str | None = None) -> dict[str, Any]:
    """The demo flow open round the clock (tests run at any hour), optionally reworded."""
    doc = copy.deepcopy(doc)
    for node in doc["nodes"]:
        if node["id"] == "hours":
            node["rules"][0]["when"]["weekly"] = ALWAYS_OPEN
            node["rules"][0]["when"]["holidays"] = []
        if node["id"] == "main_menu" and main_menu_text:
            node["prompt"] = {"text": main_menu_text}
    return doc


async def publish(hotline: Hotline, doc: dict[str, Any], comment: str) -> int:
    assert hotline.store is not None
    flows = FlowStore(hotline.store)
    [demo] = [f for f in await flows.list() if f.name == DEMO_FLOW_NAME]
    await flows.update_draft(demo.id, doc, by="test")
    return await flows.publish(demo.id, by="test", comment=comment)


def wav(path: Path, *parts: tuple[str, float]) -> Path:
    """An 8 kHz mono WAV of espeak-ng phrases, each followed by that many seconds of silence;
    an empty phrase is silence only."""
    pieces = []
    for index, (text, pause) in enumerate(parts):
        piece = path.with_name(f"{path.stem}-{index}.wav")
        if text:
            subprocess.run(["espeak-ng", "-w", str(piece), text], check=True)
            subprocess.run(
                [
                    "sox",
                    str(piece),
                    "-r",
                    "8000",
                    "-c",
                    "1",
                    "-b",
                    "16",
                    str(piece.with_suffix(".8k.wav")),
                    "pad",
                    "0",
                    str(pause),
                ],
                check=True,
            )
        else:
            subprocess.run(
                [
                    "sox",
                    "-n",
                    "-r",
                    "8000",
                    "-c",
                    "1",
                    "-b",
                    "16",
                    str(piece.with_suffix(".8k.wav")),
                    "trim",
                    "0",
                    str(pause),
                ],
                check=True,
            )
        pieces.append(str(piece.with_suffix(".8k.wav")))
    subprocess.run(["sox", *pieces, str(path)], check=True)
    return path


@pytest.fixture
async def phone_factory(tmp_path: Path) -> AsyncIterator[Any]:
    def make(name: str, source: Path) -> Baresip:
        return Baresip(tmp_path / name, source, (free_port(), free_port(), 41000))

    yield make


async def call_record(hotline: Hotline) -> CallRecord | None:
    """The latest call (records are written behind the call: maybe none yet)."""
    assert hotline.store is not None
    records = await hotline.store.calls.recent(limit=1)
    return records[0] if records else None


async def wait_for_event(hotline: Hotline, predicate: Any, timeout: float = 30) -> CallRecord:
    async def found() -> CallRecord | None:
        record = await call_record(hotline)
        return record if record and any(predicate(e) for e in record.events) else None

    record = await wait_for(found, timeout)
    assert record is not None, "\n".join(summary(await call_record(hotline)))
    return record


def summary(record: CallRecord | None) -> list[str]:
    """The call's events, one short line each (for failure messages)."""
    if record is None:
        return []
    keys = ("id", "digit", "value", "text", "outcome", "reason")
    lines = [f"{e['type']} {next((e[k] for k in keys if e.get(k)), '')}" for e in record.events]
    heard = [
        f"  heard {e.get('text')!r} ({e.get('engine')})"
        for e in record.events
        if e["type"] == "speech"
    ]
    return [line[:90] for line in lines] + heard


def prompts(record: CallRecord) -> list[str]:
    return [e.get("text", "") for e in record.events if e["type"] == "prompt"]


def path(record: CallRecord) -> list[str]:
    return [e["id"] for e in record.events if e["type"] == "node"]


def target(hotline: Hotline) -> str:
    return f"sip:shop@127.0.0.1:{hotline.config.sip_port}"


async def test_keys_order_status_reads_the_crm_status(
    hotline: Hotline, phone_factory: Any, tmp_path: Path
) -> None:
    await publish(hotline, open_all_week(demo_flow_doc()), "open all week")
    silence = wav(tmp_path / "silence.wav", ("", 60))
    status = f"Your order {spell_digits(DEMO_ORDER_SHIPPED)} was shipped"
    async with phone_factory("keys", silence) as phone:
        assert await phone.dial(target(hotline)), phone.result.events
        for key in f"11{DEMO_ORDER_SHIPPED}#":
            await phone.press(key)
            await asyncio.sleep(0.3)
        record = await wait_for_event(
            hotline, lambda e: e["type"] == "prompt" and e.get("text", "").startswith(status)
        )
        await phone.hangup()
    assert path(record)[:11] == [
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
    [flow] = [e for e in record.events if e["type"] == "flow"]
    assert flow["version"] == 2
    [lookup] = [e for e in record.events if e["type"] == "lookup" and e.get("node")]
    assert lookup["outcome"] == "found"  # within the 2 s budget, else "timeout"
    collected = [e for e in record.events if e["type"] == "collect"]
    assert collected[0]["value"] == DEMO_ORDER_SHIPPED


async def test_publish_during_a_live_call_keeps_its_version(
    hotline: Hotline, phone_factory: Any, tmp_path: Path
) -> None:
    old_menu = "Old menu. For order status press 1."
    new_menu = "New menu. For order status press 1."
    first = await publish(hotline, open_all_week(demo_flow_doc(), old_menu), "old")
    silence = wav(tmp_path / "silence.wav", ("", 60))
    async with phone_factory("live", silence) as phone:
        assert await phone.dial(target(hotline))
        live = await wait_for_event(hotline, lambda e: e["type"] == "flow")
        second = await publish(hotline, open_all_week(demo_flow_doc(), new_menu), "new")
        await phone.press("1")  # English: on to the main menu of the pinned version
        record = await wait_for_event(hotline, lambda e: e.get("text") == old_menu)
        await phone.hangup()
    assert record.id == live.id and new_menu not in prompts(record)
    async with phone_factory("next", silence) as phone:
        assert await phone.dial(target(hotline))
        await phone.press("1")
        record = await wait_for_event(hotline, lambda e: e.get("text") == new_menu)
        await phone.hangup()
    assert record.id != live.id
    assert [e["version"] for e in record.events if e["type"] == "flow"] == [second]
    assert [e["version"] for e in live.events if e["type"] == "flow"] == [first]


#: a caller answers this long after the prompt's last word (a person, not a machine)
ANSWER_AFTER = 0.6
#: -45 dBFS over 20 ms: a prompt's word, not the line's silence
LOUD_RMS = 184.0
MAIN_MENU = "For the status of an order, press 1 or say order status."
ASK_ORDER = "Please key in your six digit order number, or say it."
CONFIRM_LATEST = "Are you calling about your order"
DIGITS = Path("/usr/share/asterisk/sounds/en/digits")


def human_number(path: Path, number: str, gap: float = 0.4, group_pause: float = 0.9) -> Path:
    """The number as a person says it, in groups of three ("one zero zero ... two three
    four"): Asterisk's recorded digits, then a minute of silence (baresip hangs up when
    its microphone file ends)."""
    groups = [number[i : i + 3] for i in range(0, len(number), 3)]
    said = [join([read_wav(DIGITS / f"{d}.wav") for d in group], gap=gap) for group in groups]
    pcm = np.concatenate([join(said, gap=group_pause), silence(60.0)]).astype(np.int16)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(pcm.tobytes())
    return path


async def prompt_heard_to_the_end(phone: Baresip, since: int, timeout: float = 40) -> None:
    """Return ``ANSWER_AFTER`` s after the caller heard the last word of the prompt that
    plays from sample ``since`` of what it hears on (the prompts' own pauses are shorter)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    position, last_loud = since, None
    while loop.time() < deadline:
        new = phone.heard()[position:]
        count = len(new) // 160
        if count:
            rms = np.sqrt(np.mean(new[: count * 160].reshape(count, 160).astype(float) ** 2, 1))
            loud = np.flatnonzero(rms > LOUD_RMS)
            if loud.size:
                last_loud = loop.time() - (count - 1 - loud[-1]) * 0.02
            position += count * 160
        if last_loud is not None and loop.time() - last_loud >= ANSWER_AFTER:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"no prompt heard to its end from sample {since}")


async def answer(hotline: Hotline, phone: Baresip, prompt: str, words: Path) -> None:
    """Once the prompt starting with ``prompt`` plays, hear it out, pause like a person,
    then say ``words``."""

    async def started() -> CallRecord | None:
        record = await call_record(hotline)
        return record if record and any(t.startswith(prompt) for t in prompts(record)) else None

    assert await wait_for(started, 40), "\n".join(summary(await call_record(hotline)))
    await prompt_heard_to_the_end(phone, len(phone.heard()))
    await phone.speak(words)


def speech_report(record: CallRecord) -> list[str]:
    return [
        f"speech {e.get('outcome')} value={e.get('value')!r} text={e.get('text')!r} "
        f"confidence={e.get('confidence')} latency_ms={e.get('latency_ms')}"
        for e in record.events
        if e["type"] == "speech"
    ]


def espeak_words(path: Path, text: str) -> Path:
    return wav(path, (text, 60.0))


async def test_spoken_order_status(hotline: Hotline, phone_factory: Any, tmp_path: Path) -> None:
    """English by key, then speech like a person: "order status" after the main menu,
    the order number (recorded human digits, in two groups) after the question, each
    starting under a second after the prompt's last word as the caller hears it."""
    assert hotline.services is not None and hotline.services.speech is not None
    await publish(hotline, open_all_week(demo_flow_doc()), "open all week")
    quiet = wav(tmp_path / "quiet.wav", ("", 90))
    order_status = espeak_words(tmp_path / "order-status.wav", "order status")
    # An order number without a "two": Asterisk's recording of "two" is the one digit the
    # telephone-band front end still confuses with "zero"/"eight oh" (see bench/asr_accuracy);
    # the keyed test above covers the shipped order.
    number = human_number(tmp_path / "number.wav", DEMO_ORDER_DELIVERED)
    status = f"Your order {spell_digits(DEMO_ORDER_DELIVERED)} was delivered"
    async with phone_factory("speech", quiet) as phone:
        assert await phone.dial(target(hotline))
        await phone.press("1")
        await answer(hotline, phone, MAIN_MENU, order_status)
        await answer(hotline, phone, ASK_ORDER, number)
        record = await wait_for_event(
            hotline, lambda e: e["type"] == "prompt" and e.get("text", "").startswith(status), 40
        )
        await phone.hangup()
    print("\n".join([*summary(record), *speech_report(record)]))
    speech = [e for e in record.events if e["type"] == "speech" and e["outcome"] == "match"]
    assert [e["value"] for e in speech] == ["1", DEMO_ORDER_DELIVERED]
    assert all(e["engine"] and e["confidence"] > 0 and e["latency_ms"] > 0 for e in speech)
    assert path(record)[-4:] == ["main_menu", "order_choice", "ask_order", "order_lookup"]
    # the caller answered every question in time: no no-input, no re-prompt
    assert not [e for e in record.events if e["type"] in ("noinput", "nomatch", "invalid")]
    [collected] = [e for e in record.events if e["type"] == "collect"]
    assert collected["value"] == DEMO_ORDER_DELIVERED


async def test_spoken_yes_confirms_the_latest_order(
    hotline: Hotline, phone_factory: Any, tmp_path: Path
) -> None:
    """A known customer says "order status", then "yes" when the IVR offers their
    latest order: its status is read from the CRM."""
    assert hotline.services is not None and hotline.services.speech is not None
    await publish(hotline, open_all_week(demo_flow_doc()), "open all week")
    quiet = wav(tmp_path / "quiet.wav", ("", 90))
    order_status = espeak_words(tmp_path / "order-status.wav", "order status")
    yes = espeak_words(tmp_path / "yes.wav", "yes")
    phone = phone_factory("confirm", quiet)
    (phone.config_dir / "accounts").write_text(  # read when baresip starts
        f"<sip:{DEMO_CUSTOMER_PHONE}@127.0.0.1>;regint=0;audio_codecs=PCMU\n"
    )
    async with phone:
        assert await phone.dial(target(hotline))
        await phone.press("1")
        await answer(hotline, phone, MAIN_MENU, order_status)
        await answer(hotline, phone, CONFIRM_LATEST, yes)
        record = await wait_for_event(
            hotline, lambda e: e["type"] == "prompt" and e.get("text", "").startswith("Your order")
        )
        await phone.hangup()
    print("\n".join([*summary(record), *speech_report(record)]))
    speech = [e for e in record.events if e["type"] == "speech" and e["outcome"] == "match"]
    assert [e["value"] for e in speech] == ["1", "1"]  # the menus' options: order status, yes
    assert [e["text"] for e in speech] == ["order status", "yes"]
    assert path(record)[-4:] == ["order_choice", "latest_order", "confirm_latest", "latest_status"]
