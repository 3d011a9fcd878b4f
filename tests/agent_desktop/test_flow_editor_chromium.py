"""The supervisors' flow editor in headless Chromium against a whole demo server.

Driven the way a person would, through labelled controls and roles: sign in, open the demo
flow, break a prompt and see the error on its node, fix it, publish with a comment, see
the new version, diff it, roll back; then press keys in the simulator and watch the
order-status path light up.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from hotline.app import Hotline
from hotline.config import Config
from tests.interop.conftest import free_port

CHROMIUM = "/usr/bin/chromium"
ARGS = [  # TESTING.md: no sandbox as root, nothing that phones home
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INVALID = re.compile(r"\binvalid\b")
ON_PATH = re.compile(r"\bon-path\b")

pytestmark = pytest.mark.peer


@pytest.fixture
async def server(config: Config) -> AsyncIterator[str]:
    """A demo Hotline (demo flow seeded and published as version 1); its base URL."""
    demo = dataclasses.replace(
        config,
        sip_host="127.0.0.1",
        sip_port=free_port(),
        http_host="127.0.0.1",
        http_port=0,
        rtp_ports=(41000, 41999),
        demo=True,
    )
    async with Hotline(demo) as hotline:
        assert hotline.http is not None
        yield f"http://127.0.0.1:{hotline.http.port}"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def page(browser: Browser, server: str) -> AsyncIterator[Page]:
    """The editor, signed in as the demo supervisor, the demo flow open."""
    # The demo's business hours are Europe/Warsaw; so is the simulator's "Call time" field.
    context = await browser.new_context(timezone_id="Europe/Warsaw", base_url=server)
    editor = await context.new_page()
    errors: list[Any] = []
    editor.on("pageerror", lambda error: errors.append(error))
    await editor.goto("/supervisor/flows")
    await editor.get_by_label("Username").fill("supervisor")
    await editor.get_by_label("Password").fill("supervisor")
    await editor.get_by_role("button", name="Sign in").click()
    await expect(editor.get_by_role("heading", name=re.compile("Shop hotline"))).to_be_visible()
    yield editor
    await context.close()
    assert errors == [], errors


async def test_edit_see_the_error_fix_publish_diff_and_roll_back(page: Page) -> None:
    welcome = page.get_by_role("button", name=re.compile(r"^say node welcome"))
    await expect(page.locator("#versions tbody tr")).to_have_count(1)

    await welcome.click()
    prompt = page.get_by_label("Prompt text", exact=True)
    await expect(prompt).to_have_value("Welcome to the Hotline shop.")
    await prompt.fill("")
    await expect(welcome).to_have_class(INVALID)
    await expect(welcome).to_have_accessible_name(re.compile("1 error"))
    await expect(page.locator('.field-error[data-field="prompt.text"]')).to_have_text(
        "the prompt has no text and no file"
    )
    errors = page.get_by_role("list", name="Validation")
    await expect(errors).to_contain_text("welcome · prompt.text")

    await page.get_by_label("Publish comment").fill("broken greeting")
    await page.get_by_role("button", name="Publish", exact=True).click()
    await expect(page.locator("#status")).to_contain_text("Not published: 1 validation error")
    await expect(page.locator("#versions tbody tr")).to_have_count(1)

    await prompt.fill("Welcome to the Hotline shop. We have new opening hours.")
    await expect(welcome).not_to_have_class(INVALID)
    await expect(errors).to_have_text("")
    await page.get_by_label("Publish comment").fill("new greeting")
    await page.get_by_role("button", name="Publish", exact=True).click()
    await expect(page.locator("#status")).to_have_text("Published version 2.")
    newest = page.locator("#versions tbody tr").first
    await expect(newest).to_contain_text("v2 (live)")
    await expect(newest).to_contain_text("new greeting")
    await expect(newest).to_contain_text("supervisor")

    await page.get_by_label("Diff from").select_option(label="Version 1")
    await page.get_by_label("Diff to").select_option(label="Version 2")
    await page.get_by_role("button", name="Show diff").click()
    await expect(page.get_by_label("Diff", exact=True)).to_contain_text(
        '~ welcome.prompt.text: "Welcome to the Hotline shop." → '
        '"Welcome to the Hotline shop. We have new opening hours."'
    )

    await page.get_by_role("button", name="Roll back to version 1").click()
    await expect(page.locator("#versions tbody tr").first).to_contain_text("v3 (live)")
    await expect(page.locator("#versions tbody tr").first).to_contain_text("rollback to version 1")


async def test_simulator_lights_up_the_order_status_path(page: Page) -> None:
    await page.get_by_label("Call time").fill("2026-11-23T10:00")  # a Monday, open
    await page.get_by_role("button", name="Press 1").click()  # English
    await expect(page.locator("#sim-outcome")).to_have_text("Waiting for the caller at main_menu.")
    await page.get_by_label("Caller says").fill("order status")
    await page.get_by_role("button", name="Say", exact=True).click()

    await expect(page.locator("#sim-outcome")).to_have_text("Waiting for the caller at ask_order.")
    for node in ("welcome", "choose_language", "main_menu", "order_choice", "ask_order"):
        await expect(page.locator(f'.node[data-id="{node}"]')).to_have_class(ON_PATH)
    for node in ("returns_info", "billing_info", "closed_menu"):
        await expect(page.locator(f'.node[data-id="{node}"]')).not_to_have_class(ON_PATH)
    menu_edges = page.locator('.edge[data-from="main_menu"]')
    await expect(menu_edges.and_(page.locator(".on-path"))).to_have_count(1)
    await expect(menu_edges.and_(page.locator(".on-path"))).to_have_attribute(
        "data-field", "options.0.next"
    )
    prompts = page.get_by_role("list", name="Prompts spoken")
    await expect(prompts.get_by_role("listitem").first).to_have_text("Welcome to the Hotline shop.")
    await expect(prompts.get_by_role("listitem").last).to_have_text(
        "Please key in your six digit order number, or say it."
    )
    await expect(page.get_by_label("Caller input so far")).to_have_text(
        'pressed 1, said "order status"'
    )

    await page.get_by_role("button", name="Restart call").click()
    await page.get_by_role("button", name="Press 2").click()  # Polish
    await expect(page.locator('.node[data-id="polish"]')).to_have_class(ON_PATH)
    await expect(page.locator('.node[data-id="ask_order"]')).not_to_have_class(ON_PATH)


async def test_menu_options_are_edited_in_a_form_and_saved_as_a_draft(page: Page) -> None:
    menu = page.get_by_role("button", name=re.compile(r"^menu node main_menu"))
    await menu.click()
    await expect(page.get_by_label("Option 1 digit")).to_have_value("1")
    await expect(page.get_by_label("Option 1 next")).to_have_value("order_choice")
    await expect(page.get_by_label("Option 2 phrases (comma-separated)")).to_have_value(
        "returns, return, refund, zwrot, zwroty"
    )

    await page.get_by_role("button", name="Add option").click()
    await expect(menu).to_have_class(INVALID)
    await expect(page.locator('.field-error[data-field="options.4"]')).to_have_text(
        "an option needs a digit or a phrase"
    )
    await expect(page.locator('.field-error[data-field="options.4.next"]')).to_have_text(
        "the option leads nowhere"
    )
    await page.get_by_label("Option 5 digit").fill("9")
    await page.get_by_label("Option 5 phrases (comma-separated)").fill("help, info")
    await page.get_by_label("Option 5 next").select_option("queue_agent")
    await expect(menu).not_to_have_class(INVALID)
    await expect(
        page.locator('.edge[data-from="main_menu"][data-field="options.4.next"]')
    ).to_have_count(1)

    await page.get_by_role("button", name="Save draft").click()
    await expect(page.locator("#status")).to_have_text("Draft saved; it is valid.")
    await page.reload()  # the token survives in sessionStorage; the draft comes back
    await page.get_by_role("button", name=re.compile(r"^menu node main_menu")).click()
    await expect(page.get_by_label("Option 5 phrases (comma-separated)")).to_have_value(
        "help, info"
    )
    await expect(page.locator("#flow-state")).to_have_text("— live: version 1")
