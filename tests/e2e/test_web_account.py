"""The web client's account features: display names and avatars reaching the other
side live (`user_updated`) and after a reload, blocking from a person's card, the sessions list
and revoking one, the data export's download, and deleting the account; driven through the UI
in headless Chromium by two people in their own browser profiles against a real API instance
and worker.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from tests.e2e.conftest import direct_pair, expect

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(150)]

# What an <img> shows bytes fetched with the token through: an object URL or a data: URL.
SHOWN = re.compile(r"^(blob|data):")


def _png(size: int = 96) -> bytes:
    """A real PNG (a yellow disc on blue) made with Pillow, as the server reads it."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (size, size), (29, 95, 191))
    ImageDraw.Draw(image).ellipse([size // 8, size // 8, 7 * size // 8, 7 * size // 8], fill=(242, 169, 0))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()



async def _open_settings(client):
    await client.page.get_by_test_id("settings-button").click()
    dialog = client.page.get_by_test_id("account-dialog")
    await expect(dialog).to_be_visible()
    return dialog


async def _close_settings(client) -> None:
    await client.page.get_by_test_id("account-close").click()
    await expect(client.page.get_by_test_id("account-dialog")).to_be_hidden()


async def test_web_display_name_and_avatar_reach_the_other_side_live_and_after_reload(new_client) -> None:
    alice, bob = await direct_pair(new_client, "Hello Bob")
    dialog = await _open_settings(alice)
    await dialog.get_by_test_id("display-name-input").fill("Алиса Wonder")
    await dialog.get_by_test_id("display-name-save").click()
    await expect(dialog.get_by_test_id("profile-status")).to_have_text("Name saved.")
    await dialog.get_by_test_id("avatar-file").set_input_files(
        files=[{"name": "me.png", "mimeType": "image/png", "buffer": _png()}]
    )
    await expect(dialog.get_by_test_id("profile-status")).to_have_text("Avatar saved.")
    await expect(dialog.locator("[data-testid=avatar-preview] img")).to_have_attribute("src", SHOWN)
    await expect(dialog.get_by_test_id("avatar-remove")).to_be_visible()
    await _close_settings(alice)
    await expect(alice.page.get_by_test_id("current-display-name")).to_have_text("Алиса Wonder")

    # Bob's page learns both at once through user_updated: the chat's title, the list, the
    # sender of her message, and her avatar in the header.
    await expect(bob.page.get_by_test_id("chat-title")).to_have_text("Алиса Wonder")
    await expect(bob.chat_item("Алиса Wonder")).to_have_count(1)
    await expect(bob.message("Hello Bob").get_by_test_id("message-sender")).to_have_text("Алиса Wonder")
    await expect(bob.page.locator("[data-testid=chat-avatar] img")).to_have_attribute("src", SHOWN)

    # People search shows the display name, the username beside it.
    await bob.page.get_by_test_id("search-input").fill(alice.username)
    await bob.page.get_by_test_id("search-submit").click()
    found = bob.page.locator(f'[data-testid=search-result][data-username="{alice.username}"]')
    await expect(found).to_contain_text("Chat with Алиса Wonder")
    await expect(found).to_contain_text(f"@{alice.username}")

    # After a reload the server's profile says the same.
    await bob.page.reload()
    await bob.expect_online()
    await bob.open_chat("Алиса Wonder")
    await expect(bob.page.locator("[data-testid=chat-avatar]")).to_have_attribute("data-has-avatar", "true")
    await bob.page.get_by_test_id("chat-person").click()
    card = bob.page.get_by_test_id("user-card")
    await expect(card.get_by_test_id("user-card-name")).to_have_text("Алиса Wonder")
    await expect(card.get_by_test_id("user-card-username")).to_have_text(f"@{alice.username}")
    await expect(card.get_by_test_id("user-card-presence")).to_have_text("online")
    await expect(card.locator("[data-testid=user-card-avatar] img")).to_have_attribute("src", SHOWN)
    await card.get_by_test_id("user-card-close").click()

    # Removing the avatar goes live too: Bob's header falls back to her initial.
    dialog = await _open_settings(alice)
    await dialog.get_by_test_id("avatar-remove").click()
    await expect(dialog.get_by_test_id("profile-status")).to_have_text("Avatar removed.")
    await expect(bob.page.locator("[data-testid=chat-avatar]")).to_have_attribute("data-has-avatar", "false")
    await expect(bob.page.locator("[data-testid=chat-avatar] .initials")).to_have_text("А")


async def test_web_block_from_the_card_stops_a_new_chat_and_sends(new_client) -> None:
    alice, bob = await direct_pair(new_client, "Hello Bob")
    await alice.page.get_by_test_id("chat-person").click()
    card = alice.page.get_by_test_id("user-card")
    block = card.get_by_test_id("user-card-block")
    await expect(block).to_have_text("Block")
    await block.click()
    await expect(block).to_have_text("Unblock")
    await expect(card.get_by_test_id("user-card-blocked")).to_be_visible()
    await card.get_by_test_id("user-card-close").click()

    # Bob's message to the blocker's direct chat is refused, with the server's reason.
    await bob.send("Are you there?", confirm=False)
    pending = bob.page.get_by_test_id("message").filter(has_text="Are you there?")
    await expect(pending.get_by_test_id("message-status")).to_have_attribute("data-status", "failed")
    await expect(pending.locator(".error")).to_contain_text("has blocked you")
    await expect(alice.message("Are you there?")).to_have_count(0)

    # Nor can he open a direct chat with her: the toast says why.
    page = bob.page
    await page.get_by_test_id("search-input").fill(alice.username)
    await page.get_by_test_id("search-submit").click()
    await page.locator(f'[data-testid=search-result][data-username="{alice.username}"]').click()
    await expect(page.get_by_test_id("app-error")).to_contain_text("has blocked you")

    # Alice sees Bob in her blocked list and unblocks him there; his sends go through again.
    dialog = await _open_settings(alice)
    row = dialog.get_by_test_id("blocked-user")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text(bob.username)
    await row.get_by_test_id("unblock-button").click()
    await expect(row).to_have_count(0)
    await expect(dialog.get_by_test_id("blocked-empty")).to_be_visible()
    await _close_settings(alice)
    await bob.send("Unblocked now")
    await expect(alice.message("Unblocked now")).to_have_count(1)


async def test_web_sessions_list_and_revoking_the_other_logs_it_out(new_client) -> None:
    first = await new_client("sam")
    await first.register()
    second = await new_client("sam")
    second.username = first.username  # the same account in a second browser profile
    await second.page.goto("/")
    await second.login()

    dialog = await _open_settings(first)
    sessions = dialog.get_by_test_id("session")
    await expect(sessions).to_have_count(2)
    current = dialog.locator("[data-testid=session][data-current=true]")
    await expect(current).to_have_count(1)
    await expect(current.get_by_test_id("session-current")).to_be_visible()
    await expect(sessions.first).to_have_attribute("data-current", "true")  # this device first

    other = dialog.locator("[data-testid=session][data-current=false]")
    await other.get_by_test_id("session-revoke").click()
    await expect(sessions).to_have_count(1)
    # The other profile's socket closes with 4401 and its page goes back to the login form.
    await expect(second.page.get_by_test_id("login-form")).to_be_visible()
    await expect(second.page.get_by_test_id("auth-notice")).to_contain_text("session has ended")
    assert any(line == "closed" for line in second.frames), second.traffic()
    # This one goes on, until it revokes itself: then it is logged out here too.
    await first.expect_online()
    await dialog.locator("[data-testid=session][data-current=true]").get_by_test_id("session-revoke").click()
    await expect(first.page.get_by_test_id("login-form")).to_be_visible()
    await expect(first.page.get_by_test_id("account-dialog")).to_be_hidden()


async def test_web_a_group_member_or_a_sender_opens_their_card(new_client) -> None:
    alice, bob = await direct_pair(new_client, "Hello Bob")
    await alice.create_group("Book club", [bob.username])
    await alice.send("Chapter one?")
    await bob.open_chat("Book club")
    await bob.send("Read it")
    await expect(alice.message("Read it")).to_have_count(1)
    page = alice.page
    await page.get_by_test_id("chat-member").filter(has_text=bob.username).click()
    card = page.get_by_test_id("user-card")
    await expect(card.get_by_test_id("user-card-name")).to_have_text(bob.username)
    await expect(card.get_by_test_id("user-card-block")).to_have_text("Block")
    await card.get_by_test_id("user-card-close").click()
    await expect(card).to_be_hidden()
    # The sender's name, from the keyboard.
    await alice.message("Read it").get_by_test_id("message-sender").focus()
    await page.keyboard.press("Enter")
    await expect(card.get_by_test_id("user-card-name")).to_have_text(bob.username)
    # "Message" opens the direct chat with him.
    await card.get_by_test_id("user-card-message").click()
    await expect(page.get_by_test_id("chat-title")).to_have_text(bob.username)
    await expect(alice.message("Hello Bob")).to_have_count(1)


async def test_web_export_downloads_a_json_with_a_sent_message(new_client, tmp_path: Path) -> None:
    alice, _bob = await direct_pair(new_client, "Hello Bob")
    await alice.send("Remember the 14th of May")
    dialog = await _open_settings(alice)
    async with alice.page.expect_download(timeout=60_000) as info:
        await dialog.get_by_test_id("export-start").click()
    download = await info.value
    assert download.suggested_filename.startswith(f"messenger-export-{alice.username}-")
    assert download.suggested_filename.endswith(".json")
    saved = tmp_path / "export.json"
    await download.save_as(saved)
    archive = json.loads(saved.read_text())
    assert "Remember the 14th of May" in json.dumps(archive, ensure_ascii=False)
    await expect(dialog.get_by_test_id("export-status")).to_have_text("Your archive is ready.")
    await expect(dialog.get_by_test_id("export-download")).to_be_visible()


async def test_web_delete_account_returns_to_login_and_frees_the_username(new_client) -> None:
    alice, bob = await direct_pair(new_client, "Hello Bob")
    dialog = await _open_settings(alice)
    # A wrong password is refused and shown.
    await dialog.get_by_test_id("delete-password").fill("not my password")
    await dialog.get_by_test_id("delete-account").click()
    await alice.page.get_by_test_id("confirm-ok").click()
    await expect(dialog.get_by_test_id("delete-error")).to_have_text("That password is not right.")
    await expect(alice.page.get_by_test_id("current-user")).to_be_visible()

    await dialog.get_by_test_id("delete-password").fill(alice.password)
    await dialog.get_by_test_id("delete-account").click()
    await expect(alice.page.get_by_test_id("confirm-dialog")).to_contain_text(alice.username)
    await alice.page.get_by_test_id("confirm-ok").click()
    await expect(alice.page.get_by_test_id("login-form")).to_be_visible()
    await expect(alice.page.get_by_test_id("auth-notice")).to_have_text("Your account was deleted.")

    # Bob sees the sender of her message as a deleted account.
    await expect(bob.page.get_by_test_id("message-sender").first).to_have_text("Deleted account")
    # Also after a reload, when she is no longer a member of the chat: her profile says so.
    await bob.page.reload()
    await bob.expect_online()
    await expect(bob.page.get_by_test_id("message-sender").first).to_have_text("Deleted account")

    # The username is free again: a new account takes it and sees none of the old chats.
    await alice.register()
    await expect(alice.page.get_by_test_id("chat-list-empty")).to_be_visible()


async def test_web_settings_screenshot(new_client, artifacts_dir: Path) -> None:
    alice, _bob = await direct_pair(new_client, "Hello Bob")
    dialog = await _open_settings(alice)
    await dialog.get_by_test_id("display-name-input").fill("Alice Liddell")
    await dialog.get_by_test_id("display-name-save").click()
    await dialog.get_by_test_id("avatar-file").set_input_files(
        files=[{"name": "me.png", "mimeType": "image/png", "buffer": _png()}]
    )
    await expect(dialog.get_by_test_id("profile-status")).to_have_text("Avatar saved.")
    await expect(dialog.get_by_test_id("session")).to_have_count(1)
    await alice.page.screenshot(path=str(artifacts_dir / "web-account-settings.png"))
    await _close_settings(alice)
    await alice.page.get_by_test_id("chat-person").click()
    await expect(alice.page.get_by_test_id("user-card-block")).to_be_visible()
    await alice.page.screenshot(path=str(artifacts_dir / "web-account-user-card.png"))
