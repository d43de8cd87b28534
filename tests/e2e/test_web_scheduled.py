"""Scheduled and disappearing messages in the web client (contract v1.2), driven through the UI in
headless Chromium against a real API instance and worker (the worker sends due scheduled
messages and wipes expired ones).

Scheduling: a past time is refused in the bar, a time beyond the server's horizon shows the
server's reason; a message scheduled 3 s ahead shows in the Scheduled list (soonest first, also
on the author's second device, live from `scheduled_updated`), reaches both people at its time
and leaves the list; another is edited (text and time) and cancelled; one that the server
drops at its moment (the other person blocked the author) shows the reason as a notice
(`scheduled_failed`). The timer: chosen in the chat settings, shown in both headers; a message
under a 5 s timer carries the timer mark and is shown deleted on both sides once it expires.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import UiClient, direct_pair, expect

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(180)]

ARRIVES_MS = 20_000  # send_at + the worker's "within 2 s", with room for a loaded machine


def local_input(delta: timedelta) -> str:
    """A datetime-local value `delta` from now, as the page (timezone_id UTC) reads it."""
    return (datetime.now(UTC) + delta).strftime("%Y-%m-%dT%H:%M:%S")


async def rest(client: UiClient, method: str, path: str, body: Any = None) -> int:
    """A REST call with the page's own session (for what the page under test does not do)."""
    return await client.page.evaluate(
        """async ([method, path, body]) => {
            const { access_token } = JSON.parse(localStorage.getItem('messenger.tokens'));
            const r = await fetch(path, {
                method,
                headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${access_token}` },
                body: body === null ? undefined : JSON.stringify(body),
            });
            return r.status;
        }""",
        [method, path, body],
    )


async def schedule(client: UiClient, text: str, when: str) -> None:
    """Types `text`, opens the "send later" bar if closed, picks `when` and submits."""
    page = client.page
    if await page.get_by_test_id("schedule-bar").is_hidden():
        await page.get_by_test_id("schedule-toggle").click()
    await expect(page.get_by_test_id("schedule-bar")).to_be_visible()
    await expect(page.get_by_test_id("send-button")).to_have_text("Schedule")
    await page.get_by_test_id("message-input").fill(text)
    await page.get_by_test_id("schedule-at").fill(when)
    await page.get_by_test_id("send-button").click()


async def my_id(client: UiClient) -> int:
    return int(
        await client.page.evaluate(
            """async () => {
                const { access_token } = JSON.parse(localStorage.getItem('messenger.tokens'));
                const r = await fetch('/users/me', { headers: { Authorization: `Bearer ${access_token}` } });
                return (await r.json()).id;
            }"""
        )
    )


def pending(client: UiClient) -> Any:
    return client.page.get_by_test_id("scheduled-item")


def pending_item(client: UiClient, text: str) -> Any:
    return pending(client).filter(has=client.page.get_by_test_id("scheduled-content").get_by_text(text, exact=True))


async def second_device(new_client: Any, of: UiClient) -> UiClient:
    """The same person in another browser profile (its own device id), signed in through the UI."""
    other = await new_client("device2")
    other.username = of.username
    await other.page.goto("/")
    await other.login()
    return other


async def test_web_scheduled_send_later_list_edit_cancel_and_failure(new_client: Any, artifacts_dir: Path) -> None:
    alice, bob = await direct_pair(new_client, "Hi Bob")
    page = alice.page
    phone = await second_device(new_client, alice)
    await phone.open_chat(bob.username)

    # The bar: the send button turns into "Schedule"; a moment already past is refused here.
    await schedule(alice, "too late", local_input(timedelta(minutes=-5)))
    await expect(page.get_by_test_id("schedule-error")).to_contain_text("passed")
    await expect(page.get_by_test_id("message-input")).to_have_value("too late")
    # Beyond the server's 365 days: the server's reason, the time field marked.
    await schedule(alice, "far too late", local_input(timedelta(days=400)))
    await expect(page.get_by_test_id("schedule-error")).to_contain_text("365 days")
    await expect(page.get_by_test_id("schedule-at")).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_test_id("message-input")).to_have_value("far too late")
    await page.screenshot(path=str(artifacts_dir / "e2e-schedule-bar-error.png"))
    await expect(pending(alice)).to_have_count(0)
    await expect(page.get_by_test_id("scheduled-bar")).to_be_hidden()

    # One an hour ahead, then one 3 s ahead: soonest first, on both of Alice's devices.
    await schedule(alice, "in an hour", local_input(timedelta(hours=1)))
    await expect(page.get_by_test_id("schedule-bar")).to_be_hidden()
    await expect(page.get_by_test_id("send-button")).to_have_text("Send")
    await expect(page.get_by_test_id("message-input")).to_have_value("")
    await schedule(alice, "Ping in 3 seconds", local_input(timedelta(seconds=3)))
    for device in (alice, phone):
        await expect(device.page.get_by_test_id("scheduled-content")).to_have_text(["Ping in 3 seconds", "in an hour"])
        await expect(device.page.get_by_test_id("scheduled-count")).to_have_text("2")
        for row in await pending(device).all():
            assert "null" not in (await row.text_content() or ""), await row.text_content()
    await expect(bob.message("Ping in 3 seconds")).to_have_count(0)  # nothing visible before its time
    path = artifacts_dir / "e2e-scheduled-list.png"
    await page.screenshot(path=str(path))

    # At its moment it arrives for both people and leaves the list (on both devices).
    await expect(bob.message("Ping in 3 seconds")).to_have_count(1, timeout=ARRIVES_MS)
    await expect(alice.message("Ping in 3 seconds")).to_have_count(1)
    await expect(bob.message("Ping in 3 seconds").get_by_test_id("message-sender")).to_have_text(alice.username)
    await expect(alice.message("Ping in 3 seconds")).to_have_class(re.compile(r"\bmine\b"))
    for device in (alice, phone):
        await expect(device.page.get_by_test_id("scheduled-content")).to_have_text(["in an hour"])
    assert [m["text"] for m in await bob.shown_messages()] == ["Hi Bob", "Ping in 3 seconds"]

    # Edit: new text and a new time; the other device follows.
    item_id = await pending_item(alice, "in an hour").get_attribute("data-scheduled-id")
    item = page.locator(f"[data-testid=scheduled-item][data-scheduled-id='{item_id}']")  # its text turns into a form
    await item.get_by_test_id("scheduled-edit").click()
    await item.get_by_test_id("scheduled-edit-content").fill("in two hours, edited")
    two_hours = local_input(timedelta(hours=2))
    await item.get_by_test_id("scheduled-edit-at").fill(two_hours)
    await item.get_by_test_id("scheduled-edit-save").click()
    for device in (alice, phone):
        edited = pending_item(device, "in two hours, edited")
        await expect(edited).to_have_count(1)
        shown_at = await edited.get_by_test_id("scheduled-time").get_attribute("datetime")
        assert shown_at and abs(
            datetime.fromisoformat(shown_at) - datetime.fromisoformat(two_hours + "+00:00")
        ) < timedelta(seconds=1), shown_at

    # Cancel (after a confirmation): gone from both devices; Bob never gets it.
    await pending_item(alice, "in two hours, edited").get_by_test_id("scheduled-cancel").click()
    await page.get_by_test_id("confirm-ok").click()
    for device in (alice, phone):
        await expect(pending(device)).to_have_count(0)
        await expect(device.page.get_by_test_id("scheduled-bar")).to_be_hidden()

    # One the server drops at its moment (Bob blocked Alice meanwhile): the reason as a notice.
    await schedule(alice, "will be refused", local_input(timedelta(seconds=3)))
    await expect(pending_item(alice, "will be refused")).to_have_count(1)
    alice_id = await my_id(alice)
    assert await rest(bob, "PUT", f"/users/{alice_id}/block") in (200, 204)
    notice = page.get_by_test_id("scheduled-notice")
    await expect(notice).to_have_count(1, timeout=ARRIVES_MS)
    await expect(notice).to_contain_text("not sent")
    await expect(notice).to_contain_text("refused")
    await expect(notice).to_contain_text("will be refused")
    await expect(pending(alice)).to_have_count(0)
    await expect(phone.page.get_by_test_id("scheduled-notice")).to_have_count(1)
    path = artifacts_dir / "e2e-scheduled-failed.png"
    await page.screenshot(path=str(path))
    await notice.get_by_test_id("scheduled-notice-dismiss").click()
    await expect(page.get_by_test_id("scheduled-bar")).to_be_hidden()
    await expect(bob.message("will be refused")).to_have_count(0)


async def test_web_disappearing_timer_header_mark_and_expiry(new_client: Any, artifacts_dir: Path) -> None:
    alice, bob = await direct_pair(new_client, "before the timer")
    page = alice.page

    # Chosen in the chat settings: both headers show it (Bob's from chat_updated).
    panel = await alice.open_settings()
    select = panel.get_by_test_id("ttl-select")
    await expect(select.locator("option")).to_have_text(["Off", "30 seconds", "5 minutes", "1 hour", "1 day", "1 week"])
    await select.select_option(label="5 minutes")
    for client in (alice, bob):
        await expect(client.page.get_by_test_id("chat-ttl")).to_have_text("Disappearing messages: ⏱ 5 min")
    await expect(panel.get_by_test_id("ttl-status")).to_contain_text("5 minutes")
    await expect(bob.message("before the timer").get_by_test_id("expiry-mark")).to_have_count(0)

    # 5 s (below the menu's choices; the contract's minimum), set over REST: shown as it is.
    chat_id = int(await alice.chat_item(bob.username).get_attribute("data-chat-id"))
    assert await rest(alice, "PATCH", f"/chats/{chat_id}", {"message_ttl": 5}) == 200
    for client in (alice, bob):
        await expect(client.page.get_by_test_id("chat-ttl")).to_have_text("Disappearing messages: ⏱ 5 s")
    await expect(select).to_have_value("5")
    await expect(panel.get_by_test_id("ttl-status")).to_contain_text("5 seconds")
    await page.screenshot(path=str(artifacts_dir / "e2e-disappearing-settings.png"))

    # A message under it carries the mark, then is shown deleted on both sides.
    await alice.send("this will vanish")
    await expect(bob.message("this will vanish")).to_have_count(1)
    for client in (alice, bob):
        await expect(client.message("this will vanish").get_by_test_id("expiry-mark")).to_have_count(1)
    mark = alice.message("this will vanish").get_by_test_id("expiry-mark")
    assert "Disappears" in (await mark.get_attribute("aria-label") or "")
    await page.get_by_test_id("chat-settings-toggle").click()  # closed for the picture
    path = artifacts_dir / "e2e-disappearing-before.png"
    await page.screenshot(path=str(path))
    for client in (alice, bob):
        gone = client.page.locator("[data-testid=message][data-deleted=true]")
        await expect(gone).to_have_count(1, timeout=25_000)
        await expect(gone.get_by_test_id("message-content")).to_have_text("Message deleted")
        await expect(client.message("this will vanish")).to_have_count(0)
    await expect(bob.message("before the timer")).to_have_count(1)
    path = artifacts_dir / "e2e-disappearing-after.png"
    await page.screenshot(path=str(path))

    # Off again (Bob may: a direct chat's any member): no badge, later messages carry no mark.
    panel = await bob.open_settings()
    await panel.get_by_test_id("ttl-select").select_option(label="Off")
    for client in (alice, bob):
        await expect(client.page.get_by_test_id("chat-ttl")).to_be_hidden()
    await bob.send("this one stays")
    await expect(alice.message("this one stays")).to_have_count(1)
    await expect(alice.message("this one stays").get_by_test_id("expiry-mark")).to_have_count(0)
