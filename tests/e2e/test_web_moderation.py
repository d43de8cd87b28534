"""Moderation in the web client (contract v1.2), driven through the UI in headless Chromium
against a real API instance.

A member reports a message from its actions (a repeat says it was already reported); a server
admin (made one with SQL before the page that shows the Reports button is loaded) has the
Reports dialog open and sees the report arrive live from `admin_report`, with a notice, then
dismisses it. The group's owner mutes a member from the settings panel (the member row shows
it), and that member's send is refused with "You are muted until ..."; the owner turns on slow
mode, and a second quick send shows "Slow mode: wait N s"; the owner bans a member, who leaves
the member list and shows in the Bans list until unbanned.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import UiClient, expect

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(180)]


async def moderate(owner: UiClient, username: str) -> Any:
    """The member's row in the owner's settings panel, its Moderate controls opened."""
    await owner.open_settings()
    row = owner.member_row(username)
    await expect(row).to_have_count(1)
    details = row.get_by_test_id("moderate-member")
    if await details.get_attribute("open") is None:
        await details.locator("summary").click()
    return row


async def test_web_moderation_report_queue_mute_slow_mode_ban(
    new_client: Any, pg: Any, artifacts_dir: Path
) -> None:
    alice = await new_client("alice")  # the group's owner
    bob = await new_client("bob")  # muted
    carol = await new_client("carol")  # reports, then is slowed and banned
    dave = await new_client("dave")  # the server admin
    await asyncio.gather(alice.register(), bob.register(), carol.register(), dave.register())

    # Not an admin: no Reports button.
    await expect(dave.page.get_by_test_id("reports-button")).to_be_hidden()
    await pg.execute("UPDATE users SET is_admin = TRUE WHERE username = $1", dave.username)
    await dave.page.reload()
    await dave.expect_signed_in()
    await expect(bob.page.get_by_test_id("reports-button")).to_be_hidden()
    await dave.page.get_by_test_id("reports-button").click()
    queue = dave.page.get_by_test_id("reports-dialog")
    await expect(queue).to_be_visible()

    await alice.create_group("Mods", [bob.username, carol.username])
    await bob.open_chat("Mods")
    await bob.send("buy cheap pills")
    await carol.open_chat("Mods")
    await expect(carol.message("buy cheap pills")).to_have_count(1)

    # Carol reports Bob's message: not on her own messages, a form with a reason and a comment.
    await carol.send("hello all")
    await expect(carol.message("hello all").get_by_test_id("report-button")).to_have_count(0)
    await carol.message("buy cheap pills").get_by_test_id("report-button").click()
    form = carol.page.get_by_test_id("report-dialog")
    await expect(form).to_be_visible()
    await expect(form.get_by_test_id("report-quote")).to_have_text("buy cheap pills")
    await form.get_by_test_id("report-reason").select_option("spam")
    await form.get_by_test_id("report-comment").fill("an advert")
    await form.get_by_test_id("report-submit").click()
    await expect(form.get_by_test_id("report-status")).to_contain_text("Reported")
    await carol.page.screenshot(path=str(artifacts_dir / "e2e-moderation-report.png"))
    await form.get_by_test_id("report-close").click()

    # Dave's open dialog gets it live, at the top, with a notice; then the message's text.
    item = queue.get_by_test_id("report-item").first
    await expect(queue.get_by_test_id("reports-notice")).to_contain_text("New report: Spam")
    await expect(item.get_by_test_id("report-reason")).to_have_text("Spam")
    await expect(item.get_by_test_id("report-comment-text")).to_contain_text("an advert")
    await expect(item.get_by_test_id("report-message")).to_have_text("buy cheap pills")
    await dave.page.screenshot(path=str(artifacts_dir / "e2e-moderation-queue.png"))

    # A repeat answers the first report: said so, and no second report.
    await carol.message("buy cheap pills").get_by_test_id("report-button").click()
    await form.get_by_test_id("report-submit").click()
    await expect(form.get_by_test_id("report-status")).to_contain_text("already reported")
    await form.get_by_test_id("report-close").click()

    await item.get_by_test_id("resolve-action").select_option("dismiss")
    await item.get_by_test_id("resolve-note").fill("harmless")
    await item.get_by_test_id("resolve-submit").click()
    await expect(queue.get_by_test_id("report-item")).to_have_count(0)
    await expect(queue.get_by_test_id("reports-empty")).to_be_visible()
    await queue.get_by_test_id("reports-reload").click()
    await expect(queue.get_by_test_id("report-item")).to_have_count(0)

    # The owner mutes Bob for 10 minutes; his row says so, and his send is refused.
    row = await moderate(alice, bob.username)
    await row.get_by_test_id("mute-choice").select_option("600")
    await row.get_by_test_id("mute-member").click()
    await expect(alice.member_row(bob.username).get_by_test_id("member-muted")).to_contain_text("muted until")
    # A plain member has no moderation controls at all.
    await expect(carol.page.get_by_test_id("moderate-member")).to_have_count(0)
    await bob.send("am I muted", confirm=False)
    notice = bob.page.get_by_test_id("composer-notice")
    await expect(notice).to_contain_text("You are muted until")
    await bob.page.screenshot(path=str(artifacts_dir / "e2e-moderation-muted.png"))

    # Slow mode: 10 s; Carol's second quick message is refused with the wait.
    panel = await alice.open_settings()
    await panel.get_by_test_id("slow-mode-select").select_option("10")
    await expect(panel.get_by_test_id("slow-mode-status")).to_contain_text("10 s")
    await carol.send("first under slow mode")
    await carol.send("second too soon", confirm=False)
    await expect(carol.page.get_by_test_id("composer-notice")).to_contain_text("Slow mode: wait")
    await expect(carol.page.get_by_test_id("composer-notice")).to_contain_text(" s")
    await carol.page.screenshot(path=str(artifacts_dir / "e2e-moderation-slow.png"))

    # The owner bans Carol: she leaves the member list, and the Bans list has her until unbanned.
    row = await moderate(alice, carol.username)
    await row.get_by_test_id("ban-reason").fill("spam")
    await row.get_by_test_id("ban-member").click()
    await expect(alice.member_row(carol.username)).to_have_count(0)
    panel = await alice.open_settings()
    await panel.get_by_test_id("bans-show").click()
    ban = panel.get_by_test_id("ban-item")
    await expect(ban).to_have_count(1)
    await expect(ban).to_contain_text("for good")
    await expect(ban).to_contain_text("spam")
    await alice.page.screenshot(path=str(artifacts_dir / "e2e-moderation-bans.png"))
    await ban.get_by_test_id("unban-button").click()
    await expect(panel.get_by_test_id("bans-empty")).to_be_visible()
