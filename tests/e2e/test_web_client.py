"""The web client at `/`, driven in headless Chromium as two people in two browser profiles.

Everything goes through the UI (register, search, open, type, send), against a real API
instance and worker, so these tests cover the page, REST, the WebSocket and delivery together.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.e2e.conftest import direct_pair, expect

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(120)]



def _assert_once_in_order(shown: list[dict], expected_texts: list[str], who: str) -> None:
    ids = [m["id"] for m in shown]
    seqs = [m["seq"] for m in shown]
    assert len(ids) == len(set(ids)), f"{who} shows a message twice: {shown}"
    assert seqs == sorted(set(seqs)), f"{who} shows seqs out of order or twice: {seqs}"
    assert seqs == list(range(1, len(seqs) + 1)), f"{who} misses a seq: {seqs}"
    assert [m["text"] for m in shown] == expected_texts, f"{who} shows {shown}"


async def test_web_client_exchanges_direct_messages_live(new_client) -> None:
    alice, bob = await direct_pair(new_client)

    await alice.send("Hi Bob, it's Alice")
    # Bob never reloads: the new chat and its first message arrive over the WebSocket.
    await expect(bob.chat_item(alice.username)).to_have_count(1)
    await expect(bob.chat_item(alice.username)).to_contain_text("Hi Bob, it's Alice")
    await bob.open_chat(alice.username)
    await expect(bob.message("Hi Bob, it's Alice")).to_have_count(1)

    await bob.send("Hello Alice!", with_enter=True)
    await expect(alice.message("Hello Alice!")).to_have_count(1)

    await alice.send("How are you?")
    await expect(bob.message("How are you?")).to_have_count(1)
    # Screen readers hear it: the polite live region names the sender and the text.
    await expect(bob.page.get_by_test_id("announcer")).to_contain_text(f"{alice.username}: How are you?")
    await bob.send("Fine, thanks.")
    await expect(alice.message("Fine, thanks.")).to_have_count(1)

    expected = ["Hi Bob, it's Alice", "Hello Alice!", "How are you?", "Fine, thanks."]
    for client in (alice, bob):
        await expect(client.stored_messages()).to_have_count(len(expected))
        _assert_once_in_order(await client.shown_messages(), expected, client.username)
        # Own messages on the right, the other's on the left.
        await expect(client.page.locator(".message.mine[data-message-id]")).to_have_count(2)
        client.assert_no_page_errors()


async def test_web_client_shows_typing_read_receipts_and_presence(new_client) -> None:
    alice, bob = await direct_pair(new_client)
    await expect(alice.page.get_by_test_id("presence")).to_have_text("online")

    await alice.send("Are you there?")
    await expect(bob.chat_item(alice.username).get_by_test_id("unread-count")).to_have_attribute("data-count", "1")
    status = alice.message("Are you there?").get_by_test_id("message-status")
    # Bob's device got it (its ack): delivered, one check mark.
    await expect(status).to_have_attribute("data-status", "delivered")

    await bob.open_chat(alice.username)
    # Bob has the chat open and visible: read, two check marks, and no unread badge left.
    await expect(status).to_have_attribute("data-status", "read")
    await expect(status).to_contain_text("✓✓")
    await expect(bob.chat_item(alice.username).get_by_test_id("unread-count")).to_have_count(0)

    await bob.page.get_by_test_id("message-input").press_sequentially("I am typ", delay=20)
    await expect(alice.page.get_by_test_id("typing")).to_have_text(f"{bob.username} is typing…")
    await expect(alice.page.get_by_test_id("typing")).to_have_text("", timeout=9_000)

    # Bob leaves: Alice sees him go offline.
    await bob.context.close()
    await expect(alice.page.get_by_test_id("presence")).not_to_have_text("online")
    alice.assert_no_page_errors()


async def test_web_client_reload_shows_each_message_once(new_client) -> None:
    alice, bob = await direct_pair(new_client)
    expected: list[str] = []

    async def say(text: str, *, confirm: bool = True) -> None:
        expected.append(text)
        await alice.send(text, confirm=confirm)

    await say("before reload 1")
    await bob.open_chat(alice.username)
    await expect(bob.message("before reload 1")).to_have_count(1)
    await bob.send("bob before reload")
    expected.append("bob before reload")
    await expect(alice.message("bob before reload")).to_have_count(1)
    await say("before reload 2")
    await expect(bob.message("before reload 2")).to_have_count(1)

    # Bob reloads; Alice keeps talking while his page goes away and comes back.
    reload = asyncio.create_task(bob.page.reload(wait_until="commit"))
    for i in range(1, 4):
        await say(f"during reload {i}", confirm=False)
    await reload
    await bob.expect_online()
    for i in range(1, 4):
        await say(f"after reload {i}")

    # The reloaded page reopens the chat it showed and ends with every message exactly once.
    await expect(bob.page.get_by_test_id("chat-title")).to_have_text(alice.username)
    for client in (bob, alice):
        try:
            await expect(client.stored_messages()).to_have_count(len(expected))
        except AssertionError as exc:
            shown = await client.shown_messages()
            raise AssertionError(
                f"{client.username} shows {shown}, expected {expected}\nits WebSocket traffic:\n{client.traffic()}"
            ) from exc
    # Replays and late duplicates would show up after a moment: look again.
    await asyncio.sleep(1.5)
    for client in (alice, bob):
        await expect(client.stored_messages()).to_have_count(len(expected))
        await expect(client.page.locator("[data-testid=message][data-pending=true]")).to_have_count(0)
        _assert_once_in_order(await client.shown_messages(), expected, client.username)
        client.assert_no_page_errors()


async def test_web_client_edits_and_deletes_live(new_client) -> None:
    alice, bob = await direct_pair(new_client, "first draft", "to be removed")

    mine = alice.message("first draft")
    await mine.get_by_test_id("edit-button").click()
    edit = alice.page.get_by_test_id("edit-input")
    await edit.fill("final text")
    await edit.press("Enter")
    await expect(alice.message("final text").get_by_test_id("message-edited")).to_have_count(1)
    await expect(bob.message("final text").get_by_test_id("message-edited")).to_have_count(1)
    await expect(bob.message("first draft")).to_have_count(0)

    await alice.message("to be removed").get_by_test_id("delete-button").click()
    await alice.page.get_by_test_id("confirm-ok").click()
    for client in (alice, bob):
        await expect(client.message("to be removed")).to_have_count(0)
        await expect(client.page.locator("[data-testid=message][data-deleted=true]")).to_have_count(1)
        await expect(client.page.locator("[data-testid=message][data-deleted=true]")).to_contain_text("Message deleted")
        await expect(client.stored_messages()).to_have_count(2)
        client.assert_no_page_errors()


async def test_web_client_logs_out_and_back_in(new_client) -> None:
    alice, bob = await direct_pair(new_client)
    await alice.send("still here after logging in again")

    await alice.page.get_by_test_id("logout-button").click()
    await expect(alice.page.get_by_test_id("login-submit")).to_be_visible()
    await expect(alice.page.get_by_test_id("connection-status")).to_have_attribute("data-state", "offline")
    assert await alice.page.evaluate("() => localStorage.getItem('messenger.tokens')") is None

    await alice.login()
    await alice.open_chat(bob.username)
    await expect(alice.message("still here after logging in again")).to_have_count(1)
    alice.assert_no_page_errors()


async def test_web_client_saves_conversation_screenshot(new_client, artifacts_dir: Path) -> None:
    alice, bob = await direct_pair(new_client)
    await alice.send("Hi Bob! Lunch today?")
    await bob.open_chat(alice.username)
    await bob.send("Sure, 12:30 at the usual place?")
    await alice.send("Perfect, see you there.")
    await bob.send("Great, see you!")
    await expect(alice.message("Great, see you!")).to_have_count(1)
    await expect(
        alice.message("Perfect, see you there.").get_by_test_id("message-status")
    ).to_have_attribute("data-status", "read")

    path = artifacts_dir / "e2e-conversation.png"
    await alice.page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000
    alice.assert_no_page_errors()
    bob.assert_no_page_errors()


async def _tab_to(client, testid: str, *, backwards: bool = False, limit: int = 40) -> None:
    """Press Tab (or Shift+Tab) until the focused element is the one with this data-testid."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(limit):
        focused = await client.page.evaluate("() => document.activeElement?.dataset?.testid ?? null")
        if focused == testid:
            return
        await client.page.keyboard.press(key)
    raise AssertionError(f"{testid} cannot be reached with {key}")


async def test_web_client_works_with_keyboard_only(new_client) -> None:
    bob = await new_client("bob")
    await bob.register()
    alice = await new_client("alice")
    page = alice.page
    await page.goto("/")
    keys = page.keyboard
    await _tab_to(alice, "register-username")
    await keys.type(alice.username)
    await _tab_to(alice, "register-email")
    await keys.type(f"{alice.username}@example.com")
    await _tab_to(alice, "register-password")
    await keys.type(alice.password)
    await keys.press("Enter")
    await alice.expect_signed_in()

    await _tab_to(alice, "search-input")
    await keys.type(bob.username)
    await keys.press("Enter")
    await expect(page.get_by_test_id("search-result")).to_have_count(1)
    await _tab_to(alice, "search-result")
    await keys.press("Enter")
    await expect(page.get_by_test_id("chat-title")).to_have_text(bob.username)
    await expect(page.get_by_test_id("message-input")).to_be_focused()
    await keys.type("typed without a mouse")
    await keys.press("Enter")
    await expect(alice.message("typed without a mouse")).to_have_count(1)
    await expect(bob.chat_item(alice.username)).to_have_count(1)

    await _tab_to(alice, "edit-button", backwards=True)
    await keys.press("Enter")
    await expect(page.get_by_test_id("edit-input")).to_be_focused()
    await keys.press("Control+a")
    await keys.type("edited without a mouse")
    await keys.press("Enter")
    await expect(alice.message("edited without a mouse")).to_have_count(1)
    await expect(bob.chat_item(alice.username)).to_contain_text("edited without a mouse")
    alice.assert_no_page_errors()
