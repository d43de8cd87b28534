"""Browser end-to-end fixtures: Debian's Chromium driven by Playwright (never a downloaded browser).

The server under test comes from the `live_server` fixture of tests/conftest.py (a real
Hypercorn API and arq worker on real PostgreSQL and Redis), or, to try the web client against
a server started by hand, from the environment variable E2E_BASE_URL.

Without the `playwright` package or /usr/bin/chromium these tests are skipped, unless
E2E_REQUIRED=1, which turns the skip into a failure (for CI, where they must run). That rule
lives here only (`e2e_available`, run before every test of this folder): the test modules
import playwright's `expect` and `Route` from this module, which imports without playwright.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

try:
    from playwright.async_api import Browser, BrowserContext, Page, Route, async_playwright, expect
except ImportError:  # the `e2e` extra is not installed: `e2e_available` skips (or fails) every test
    async_playwright = None  # type: ignore[assignment]
    expect = Route = None  # type: ignore[assignment]

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TIMEOUT_MS = 15_000
PASSWORD = "correct horse battery"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: drives the web client in a real browser")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"e2e_report_{report.when}", report)  # for the failure dumps below
    return report


def _unavailable(reason: str) -> None:
    if os.environ.get("E2E_REQUIRED", "") not in ("", "0"):
        pytest.fail(f"end-to-end tests required but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def e2e_base_url(request: pytest.FixtureRequest) -> str:
    url = os.environ.get("E2E_BASE_URL")
    if url:
        return url.rstrip("/")
    live_server = request.getfixturevalue("live_server")
    return str(live_server.base_url).rstrip("/")


@pytest.fixture(scope="session", autouse=True)
def e2e_available() -> None:
    """Every test in this folder needs playwright and Chromium: checked once, before any server
    starts; without them each test is skipped, or with E2E_REQUIRED=1 fails."""
    if async_playwright is None:
        _unavailable("the playwright package is not installed (pip install -e '.[e2e]')")
    if not os.path.exists(CHROMIUM):
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser(e2e_available: None) -> AsyncIterator[Browser]:
    pw = await async_playwright().start()
    try:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()
    finally:
        await pw.stop()


class UiClient:
    """One person at one browser profile, using the web client only through its UI."""

    def __init__(self, context: BrowserContext, page: Page, username: str) -> None:
        self.context = context
        self.page = page
        self.username = username
        self.password = PASSWORD
        self.page_errors: list[str] = []
        self.console_errors: list[str] = []
        self.frames: list[str] = []  # WebSocket traffic, for failure reports
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        page.on("websocket", self._watch_socket)
        page.on("console", lambda msg: msg.type == "error" and self.console_errors.append(msg.text))

    def _watch_socket(self, ws: Any) -> None:
        self.frames.append(f"open {ws.url.split('?')[0]}")
        ws.on("framereceived", lambda payload: self.frames.append(f"<< {str(payload)[:400]}"))
        ws.on("framesent", lambda payload: self.frames.append(f">> {str(payload)[:200]}"))
        ws.on("close", lambda _ws: self.frames.append("closed"))

    def traffic(self, last: int = 60) -> str:
        return "\n".join(self.frames[-last:])

    # --- locators ---------------------------------------------------------------------------
    def stored_messages(self) -> Any:
        """Message elements the server acknowledged (they carry an id)."""
        return self.page.locator("[data-testid=message][data-message-id]")

    def message(self, text: str) -> Any:
        return self.stored_messages().filter(
            has=self.page.get_by_test_id("message-content").get_by_text(text, exact=True)
        )

    # --- actions ----------------------------------------------------------------------------
    async def register(self) -> None:
        page = self.page
        await page.goto("/")
        await page.get_by_test_id("register-username").fill(self.username)
        await page.get_by_test_id("register-email").fill(f"{self.username}@example.com")
        await page.get_by_test_id("register-password").fill(self.password)
        await page.get_by_test_id("register-submit").click()
        await self.expect_signed_in()

    async def login(self) -> None:
        page = self.page
        await page.get_by_test_id("login-username").fill(self.username)
        await page.get_by_test_id("login-password").fill(self.password)
        await page.get_by_test_id("login-submit").click()
        await self.expect_signed_in()

    async def expect_signed_in(self) -> None:
        await expect(self.page.get_by_test_id("current-user")).to_contain_text(self.username)
        await self.expect_online()

    async def expect_online(self) -> None:
        await expect(self.page.get_by_test_id("connection-status")).to_have_attribute("data-state", "online")

    async def start_direct_chat(self, other: str, title: str | None = None) -> None:
        """`title`: what the header shows, when `other` has a display name (else the username)."""
        page = self.page
        await page.get_by_test_id("search-input").fill(other)
        await page.get_by_test_id("search-submit").click()
        result = page.locator(f'[data-testid=search-result][data-username="{other}"]')
        await result.click()
        await expect(page.get_by_test_id("chat-title")).to_have_text(title or other)

    def chat_item(self, title: str) -> Any:
        return self.page.get_by_test_id("chat-item").filter(
            has=self.page.get_by_test_id("chat-item-title").get_by_text(title, exact=True)
        )

    async def open_chat(self, title: str) -> None:
        await self.chat_item(title).click()
        await expect(self.page.get_by_test_id("chat-title")).to_have_text(title)

    async def type_message(self, text: str) -> None:
        await self.page.get_by_test_id("message-input").fill(text)

    async def send(self, text: str, *, with_enter: bool = False, confirm: bool = True) -> None:
        box = self.page.get_by_test_id("message-input")
        await box.fill(text)
        if with_enter:
            await box.press("Enter")
        else:
            await self.page.get_by_test_id("send-button").click()
        if confirm:
            await expect(self.message(text)).to_have_count(1)

    async def create_group(self, title: str, members: list[str]) -> None:
        """A group through the sidebar's form; it opens once created."""
        page = self.page
        await page.locator("details.new-group > summary").click()
        await page.get_by_test_id("group-title").fill(title)
        await page.get_by_test_id("group-members").fill(", ".join(members))
        await page.get_by_test_id("group-submit").click()
        await expect(page.get_by_test_id("chat-title")).to_have_text(title)

    async def open_settings(self) -> Any:
        """The open chat's settings panel, opened; returns its locator."""
        panel = self.page.get_by_test_id("chat-settings")
        if await panel.get_attribute("open") is None:
            await self.page.get_by_test_id("chat-settings-toggle").click()
        await expect(panel).to_have_attribute("open", "")
        return panel

    def member_row(self, username: str) -> Any:
        """One member in the open group's settings panel."""
        return self.page.get_by_test_id("member").filter(has_text=username)

    def reaction(self, text: str, emoji: str) -> Any:
        return self.message(text).locator(f'[data-testid=reaction][data-emoji="{emoji}"]')

    async def react(self, text: str, emoji: str) -> None:
        """Adds a reaction through the message's picker."""
        msg = self.message(text)
        await msg.get_by_test_id("react-button").click()
        await msg.locator(f'[data-testid=pick-reaction][data-emoji="{emoji}"]').click()
        await expect(self.reaction(text, emoji)).to_have_attribute("aria-pressed", "true")

    async def reply(self, to_text: str, text: str) -> None:
        """Replies to the message showing `to_text` with `text`."""
        await self.message(to_text).get_by_test_id("reply-button").click()
        await expect(self.page.get_by_test_id("reply-bar")).to_be_visible()
        await expect(self.page.get_by_test_id("reply-bar-preview")).to_have_text(to_text)
        await self.send(text)

    async def shown_messages(self) -> list[dict[str, Any]]:
        """What the conversation shows, top to bottom: id, seq and text of each stored message."""
        return await self.page.evaluate(
            """() => [...document.querySelectorAll('[data-testid=message][data-message-id]')].map((el) => ({
                   id: Number(el.dataset.messageId),
                   seq: Number(el.dataset.seq),
                   text: el.querySelector('[data-testid=message-content]').textContent,
               }))"""
        )

    def assert_no_page_errors(self) -> None:
        assert not self.page_errors, f"{self.username}: uncaught errors in the page: {self.page_errors}"


@pytest_asyncio.fixture(loop_scope="session")
async def new_client(
    request: pytest.FixtureRequest, browser: Browser, e2e_base_url: str, artifacts_dir: Path
) -> AsyncIterator[Callable[[str], Awaitable[UiClient]]]:
    """A factory: each call opens a fresh browser profile (own storage, own device id)."""
    expect.set_options(timeout=TIMEOUT_MS)
    contexts: list[BrowserContext] = []
    clients: list[UiClient] = []

    async def make(name: str) -> UiClient:
        context = await browser.new_context(
            base_url=e2e_base_url, viewport={"width": 1100, "height": 720}, locale="en-GB",
            timezone_id="UTC", color_scheme="light",
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = await context.new_page()
        client = UiClient(context, page, f"{name}_{uuid.uuid4().hex[:8]}")
        clients.append(client)
        return client

    try:
        yield make
        report = getattr(request.node, "e2e_report_call", None)
        if report is not None and report.failed:
            await _dump(request.node.name, clients, artifacts_dir)
        for client in clients:
            client.assert_no_page_errors()
    finally:
        for context in contexts:
            await context.close()


async def direct_pair(new_client: Callable[[str], Awaitable[UiClient]], *messages: str) -> tuple[UiClient, UiClient]:
    """Alice and Bob, registered through the UI; Alice has opened a direct chat with Bob. With
    `messages`, Alice sends them in order and Bob has the chat open and showing each of them."""
    alice = await new_client("alice")
    bob = await new_client("bob")
    await asyncio.gather(alice.register(), bob.register())
    await alice.start_direct_chat(bob.username)
    if messages:
        for text in messages:
            await alice.send(text)
        await bob.open_chat(alice.username)
        for text in messages:
            await expect(bob.message(text)).to_have_count(1)
    return alice, bob


async def _dump(test_name: str, clients: list[UiClient], artifacts_dir: Path) -> None:
    """A failed test leaves each page's screenshot and WebSocket traffic in test-artifacts/."""
    for client in clients:
        stem = artifacts_dir / f"e2e-failed-{test_name}-{client.username.split('_')[0]}"
        lines = [f"user {client.username}", "page errors:", *client.page_errors,
                 "console errors:", *client.console_errors, "websocket:", *client.frames]
        stem.with_suffix(".log").write_text("\n".join(lines) + "\n")
        with contextlib.suppress(Exception):  # a closed page has nothing to show
            await client.page.screenshot(path=str(stem.with_suffix(".png")), timeout=5_000)
