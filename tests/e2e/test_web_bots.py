"""The web client's Bots dialog (contract v1.2, Bots and webhooks), driven through the UI in
headless Chromium against a real API instance and worker: a refused webhook URL shows the
server's reason; a bot made with a webhook shows its token and secret once, and they are the
real ones (the token reads /users/me, the secret signs what a receiver on 127.0.0.2 accepts);
its deliveries table shows the attempts; rewind, turning the webhook off, a new token (the old
one then fails) and deleting it with a confirmation. Then, on a stack of its own whose webhooks
give up after 3 s, the owner's page shows the webhook disabled live from `bot_updated`.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.conftest import make_stack
from tests.e2e.conftest import expect
from tests.support.webhookreceiver import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(180)]

REFUSED_URL = "http://127.0.0.1/x"  # loopback outside WEBHOOK_ALLOWED_NETWORKS (127.0.0.2/32)


async def open_bots(client: Any) -> Any:
    await client.page.get_by_test_id("bots-button").click()
    dialog = client.page.get_by_test_id("bots-dialog")
    await expect(dialog).to_be_visible()
    return dialog


async def create_bot(dialog: Any, username: str, *, display_name: str = "", webhook_url: str = "") -> None:
    await dialog.get_by_test_id("bot-username").fill(username)
    await dialog.get_by_test_id("bot-display-name").fill(display_name)
    await dialog.get_by_test_id("bot-webhook-url").fill(webhook_url)
    await dialog.get_by_test_id("bot-create-submit").click()


DURATION = re.compile(r"^(\d+ ms|\d+(\.\d)? s)$")


async def eventually(
    act: Callable[[], Awaitable[Any]], check: Callable[[], Awaitable[Any]], timeout: float = 20.0
) -> None:
    """`check` (a short expect) until it holds, doing `act` (a Reload or Refresh click) before each try."""
    deadline = time.monotonic() + timeout
    while True:
        await act()
        try:
            await check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise


async def screenshot(page: Any, path: Path) -> None:
    """The whole dialog (it scrolls inside the viewport): taken in a taller window."""
    size = page.viewport_size
    await page.set_viewport_size({"width": 1100, "height": 1800})
    await page.screenshot(path=str(path))
    await page.set_viewport_size(size)


def bot_card(dialog: Any, username: str) -> Any:
    return dialog.locator(f'[data-testid=bot][data-username="{username}"]')


async def test_web_bots_create_list_refuse_deliver_rotate_delete(
    new_client, e2e_base_url: str, receivers, artifacts_dir: Path
) -> None:
    alice = await new_client("alice")
    await alice.register()
    page = alice.page
    dialog = await open_bots(alice)
    await expect(dialog.get_by_test_id("bots-empty")).to_be_visible()

    # A webhook URL the server refuses: its reason is shown, the field marked, no bot made.
    name = f"helper_{alice.username.split('_')[1]}"
    await create_bot(dialog, name, webhook_url=REFUSED_URL)
    error = dialog.get_by_test_id("bot-create-error")
    await expect(error).to_contain_text("webhook_url")
    await expect(error).to_contain_text("public address")
    await expect(dialog.get_by_test_id("bot-webhook-url")).to_have_attribute("aria-invalid", "true")
    await expect(dialog.get_by_test_id("bot")).to_have_count(0)

    # Made with a real receiver's URL: the token and secret are shown once, with the note.
    receiver = receivers()
    await create_bot(dialog, name, display_name="Helper", webhook_url=receiver.url)
    await expect(error).to_have_text("")
    secrets = dialog.get_by_test_id("bot-secrets")
    await expect(secrets.get_by_test_id("bot-secrets-note")).to_contain_text("Shown only now")
    token = (await secrets.get_by_test_id("bot-token-value").text_content()) or ""
    secret = (await secrets.get_by_test_id("bot-secret-value").text_content()) or ""
    assert token and secret
    card = bot_card(dialog, name)
    await expect(card).to_have_count(1)
    await expect(card.get_by_test_id("bot-name")).to_have_text(f"Helper (@{name})")
    await expect(card.get_by_test_id("webhook-url")).to_have_text(receiver.url)
    await expect(card.get_by_test_id("webhook-enabled-state")).to_have_text("yes")
    await expect(dialog.get_by_test_id("bot-create-form").get_by_test_id("bot-username")).to_have_value("")

    # The token shown is the bot's: it reads the bot's own account.
    async with httpx.AsyncClient(base_url=e2e_base_url, timeout=15.0) as http:
        me = await http.get("/users/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["is_bot"] is True and me.json()["username"] == name, me.text

        # The secret shown is the webhook's: the receiver checks every signature with it.
        receiver.secret = secret
        await asyncio.to_thread(receiver.start)
        await secrets.get_by_test_id("bot-secrets-dismiss").click()
        await expect(secrets).to_be_hidden()
        await dialog.get_by_test_id("bots-close").click()
        await alice.start_direct_chat(name, title="Helper")  # the bot's inbox now holds the new chat
        await alice.send("hello bot")
        await wait_for(lambda: len(receiver.accepted_events()) >= 2, what="the chat and the message at the receiver")
        assert receiver.problems() == []

        # The deliveries table shows the attempts, newest first, each answered 200.
        dialog = await open_bots(alice)
        card = bot_card(dialog, name)
        await card.get_by_test_id("deliveries-toggle").click()
        rows = card.get_by_test_id("delivery-row")
        await eventually(
            lambda: card.get_by_test_id("deliveries-refresh").click(),
            lambda: expect(rows.first).to_be_visible(timeout=1000),
        )
        await expect(rows.first.get_by_test_id("delivery-status")).to_have_text("200")
        await expect(rows.first.get_by_test_id("delivery-attempt")).to_have_text("1")
        await expect(rows.first.get_by_test_id("delivery-duration")).to_have_text(DURATION)
        # The cursor moves once the 2xx is in, a moment after the receiver logged it: Reload.
        last_seq = max(e["data"]["inbox_seq"] for e in receiver.accepted_events())
        await eventually(
            lambda: dialog.get_by_test_id("bots-reload").click(),
            lambda: expect(card.get_by_test_id("webhook-cursor")).to_have_text(str(last_seq), timeout=1000),
        )
        await expect(card.get_by_test_id("webhook-status")).to_have_attribute("data-kind", "ok")
        await expect(card.get_by_test_id("webhook-pending")).to_have_text("0")
        delivered = len(receiver.accepted_events())
        assert delivered >= 2

        # Rewind to 0: everything again; the cursor is back at 0 in the answer.
        await card.get_by_test_id("rewind-input").fill("0")
        await card.get_by_test_id("rewind-submit").click()
        await expect(card.get_by_test_id("bot-status")).to_have_text("Deliveries start again after inbox_seq 0.")
        await wait_for(lambda: len(receiver.accepted_events()) >= 2 * delivered, what="the replay after a rewind")
        # A rewind past the inbox is the server's 422, shown with its field.
        await card.get_by_test_id("rewind-input").fill("999")
        await card.get_by_test_id("rewind-submit").click()
        await expect(card.get_by_test_id("bot-error")).to_contain_text("inbox_seq")

        # A refused URL as an edit: the server's reason, and the webhook stays as it was.
        await card.get_by_test_id("webhook-url-input").fill(REFUSED_URL)
        await card.get_by_test_id("webhook-save").click()
        await expect(card.get_by_test_id("bot-error")).to_contain_text("public address")
        await expect(card.get_by_test_id("webhook-url")).to_have_text(receiver.url)
        await card.get_by_test_id("webhook-url-input").fill(receiver.url)

        # Turned off by the owner.
        await card.get_by_test_id("webhook-enabled").uncheck()
        await card.get_by_test_id("webhook-save").click()
        await expect(card.get_by_test_id("bot-status")).to_have_text("Webhook saved.")
        await expect(card.get_by_test_id("webhook-status")).to_have_attribute("data-kind", "disabled")
        await expect(card.get_by_test_id("webhook-disabled-reason")).to_have_text("Disabled by its owner.")
        await expect(card.get_by_test_id("webhook-enabled-state")).to_have_text("no")

        # A new token, after a confirmation: shown once; the old one stops at once.
        await card.get_by_test_id("bot-rotate-token").click()
        await page.get_by_test_id("confirm-ok").click()
        new_token = dialog.get_by_test_id("bot-secrets").get_by_test_id("bot-token-value")
        await expect(new_token).to_be_visible()
        await expect(dialog.get_by_test_id("bot-secrets").get_by_test_id("bot-secret-value")).to_have_count(0)
        fresh = (await new_token.text_content()) or ""
        assert fresh and fresh != token
        old = await http.get("/users/me", headers={"Authorization": f"Bearer {token}"})
        assert old.status_code == 401, old.text
        assert (await http.get("/users/me", headers={"Authorization": f"Bearer {fresh}"})).status_code == 200

        # A new webhook secret, likewise.
        await card.get_by_test_id("bot-rotate-secret").click()
        await page.get_by_test_id("confirm-ok").click()
        new_secret = dialog.get_by_test_id("bot-secrets").get_by_test_id("bot-secret-value")
        await expect(new_secret).to_be_visible()
        assert ((await new_secret.text_content()) or "") not in ("", secret)

        await screenshot(page, artifacts_dir / "web-bots.png")

        # Delete: Cancel keeps it; confirming (the dialog names the bot) removes it.
        await card.get_by_test_id("bot-delete").click()
        await expect(page.get_by_test_id("confirm-dialog")).to_contain_text(name)
        await page.get_by_test_id("confirm-cancel").click()
        await expect(card).to_have_count(1)
        await card.get_by_test_id("bot-delete").click()
        await page.get_by_test_id("confirm-ok").click()
        await expect(card).to_have_count(0)
        await expect(dialog.get_by_test_id("bots-empty")).to_be_visible()
        assert (await http.get("/users/me", headers={"Authorization": f"Bearer {fresh}"})).status_code == 401

    # After a reload the server says the same: no bots.
    await page.reload()
    await alice.expect_online()
    dialog = await open_bots(alice)
    await expect(dialog.get_by_test_id("bots-empty")).to_be_visible()
    await expect(dialog.get_by_test_id("bot")).to_have_count(0)


class TestDisabledLive:
    """A stack of its own whose webhooks give up after WEBHOOK_DISABLE_AFTER=3 seconds."""

    @pytest_asyncio.fixture(loop_scope="session")
    async def e2e_base_url(self, stacks, backing) -> str:  # type: ignore[no-untyped-def]
        stack = await make_stack(stacks, backing, WEBHOOK_DISABLE_AFTER="3")
        api = stack.add_api()
        stack.add_worker()
        return str(api.base_url).rstrip("/")

    async def test_web_bot_updated_shows_the_webhook_disabled_live(
        self, new_client, receivers, artifacts_dir: Path
    ) -> None:
        alice = await new_client("alice")
        await alice.register()
        receiver = receivers()
        dialog = await open_bots(alice)
        name = f"flaky_{alice.username.split('_')[1]}"
        await create_bot(dialog, name, webhook_url=receiver.url)
        receiver.secret = (await dialog.get_by_test_id("bot-secret-value").text_content()) or ""
        await asyncio.to_thread(receiver.start)
        receiver.set(status=503)
        card = bot_card(dialog, name)
        await expect(card.get_by_test_id("webhook-status")).to_have_attribute("data-kind", "ok")
        await dialog.get_by_test_id("bots-close").click()
        await alice.start_direct_chat(name)  # an event for the bot: its receiver answers 503

        # No reload, no click: `bot_updated` brings the disabled state and a notice.
        await expect(alice.page.get_by_test_id("app-error")).to_contain_text(f"@{name}", timeout=40_000)
        await expect(alice.page.get_by_test_id("app-error")).to_contain_text("HTTP 503")
        dialog = await open_bots(alice)
        await expect(card.get_by_test_id("webhook-status")).to_have_attribute("data-kind", "disabled")
        await expect(card.get_by_test_id("webhook-disabled-reason")).to_contain_text("HTTP 503")
        await card.get_by_test_id("deliveries-toggle").click()
        await expect(card.get_by_test_id("delivery-row").first.get_by_test_id("delivery-status")).to_have_text("503")
        await expect(card.get_by_test_id("delivery-row").first.get_by_test_id("delivery-error")).not_to_have_text("")
        await screenshot(alice.page, artifacts_dir / "web-bots-disabled.png")

        # While the dialog is open: enabling again resumes, and the receiver now takes them.
        receiver.set(status=200)
        await card.get_by_test_id("webhook-enabled").check()
        await card.get_by_test_id("webhook-save").click()
        await expect(card.get_by_test_id("webhook-status")).not_to_have_attribute("data-kind", "disabled")
        await wait_for(lambda: receiver.accepted_events(), what="the kept events after enabling again")
