"""The web client's Web Push side, in headless Chromium against a real API instance
and worker.

What runs for real: the notifications control asking the browser's permission, the server's
VAPID key (GET /push/vapid-public-key), the service worker's registration (scope /static/),
the worker's `push` handler fed by Chromium itself (DevTools' ServiceWorker.deliverPushMessage,
the path a push service's message takes once it reached the browser) with the payload the
server's own code builds, its notifications read back with registration.getNotifications(),
its `notificationclick` handler run in the worker with a real Notification, and the page
opening the chat from the worker's message and from /?chat=ID.

What cannot run: headless Chromium has no push service, so PushManager.subscribe rejects
("AbortError: Registration failed - permission denied"); test_web_push_headless_subscribe_fails_visibly
proves the control says so. To test what the client does with a subscription (POST it, show
"on", find it again after a reload, DELETE it), test_web_push_subscription_round_trip replaces
only the browser's PushManager.subscribe and getSubscription with a stand-in that returns what
a push service would: an endpoint, and real P-256 and auth keys the server validates. Our
server is never stood in for.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import expect

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(150)]

# Stands in for the browser's push service only: what PushManager.subscribe would return once a
# push service answered. Real keys (an ECDH P-256 public key, 16 random auth bytes), kept in
# localStorage so that getSubscription finds it after a reload, as a browser's would.
PUSH_SERVICE_STAND_IN = """
(() => {
  const KEY = "test.push-stand-in";
  const b64 = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
  const unb64 = (text) => Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  const wrap = (saved) => saved && {
    endpoint: saved.endpoint,
    expirationTime: null,
    options: { userVisibleOnly: true, applicationServerKey: unb64(saved.serverKey).buffer },
    toJSON: () => ({ endpoint: saved.endpoint, expirationTime: null, keys: saved.keys }),
    unsubscribe: async () => { localStorage.removeItem(KEY); return true; },
  };
  PushManager.prototype.getSubscription = async function () {
    return wrap(JSON.parse(localStorage.getItem(KEY) || "null"));
  };
  PushManager.prototype.subscribe = async function (options) {
    if (!(await this.getSubscription())) {
      const pair = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);
      localStorage.setItem(KEY, JSON.stringify({
        endpoint: `https://push-stand-in.invalid/send/${crypto.randomUUID()}`,
        serverKey: b64(options.applicationServerKey),
        userVisibleOnly: options.userVisibleOnly,
        keys: { p256dh: b64(await crypto.subtle.exportKey("raw", pair.publicKey)),
                auth: b64(crypto.getRandomValues(new Uint8Array(16))) },
      }));
    }
    return this.getSubscription();
  };
})();
"""

REGISTRATION = """async () => {
  const reg = await navigator.serviceWorker.getRegistration('/static/');
  return reg && { scope: reg.scope, script: reg.active && reg.active.scriptURL, state: reg.active && reg.active.state };
}"""

NOTIFICATIONS = """async () => {
  const reg = await navigator.serviceWorker.getRegistration('/static/');
  return (await reg.getNotifications()).map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data }));
}"""

API_CALL = """async ([name, ...args]) => {
  const { api } = await import('/static/api.js');
  return api[name](...args);
}"""


async def _with_permission(new_client, name: str, base_url: str, *, stand_in: bool = False) -> Any:
    """A person, registered through the UI, whose browser allows this origin's notifications."""
    client = await new_client(name)
    await client.context.grant_permissions(["notifications"], origin=base_url)
    if stand_in:
        await client.context.add_init_script(PUSH_SERVICE_STAND_IN)
    await client.register()
    return client


async def _settled(read: Callable[[], Awaitable[Any]], done: Callable[[Any], bool], timeout: float = 10) -> Any:
    """What `read` returns once `done` says so, or its last value after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    value = await read()
    while not done(value) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        value = await read()
    return value


def _calls(page: Any) -> list[tuple[str, str, Any]]:
    """Every /push request the page makes: (method, path, JSON body or None)."""
    seen: list[tuple[str, str, Any]] = []

    def record(request: Any) -> None:
        path = re.sub(r"^https?://[^/]+", "", request.url)
        if path.startswith("/push/"):
            body = request.post_data
            seen.append((request.method, path, json.loads(body) if body else None))

    page.on("request", record)
    return seen


async def _notifications_once(client: Any, done: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
    """The service worker's notifications (NOTIFICATIONS) once `done` says so, or after 10 s."""
    return await _settled(lambda: client.page.evaluate(NOTIFICATIONS), done)


async def _deliver_push(client: Any, base_url: str, payload: dict[str, Any]) -> None:
    """Hands `payload` to the page's service worker as a push message, the way Chromium does
    once a push service delivered one (decrypted): DevTools' ServiceWorker.deliverPushMessage."""
    cdp = await client.context.new_cdp_session(client.page)
    registrations: list[dict[str, Any]] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda ev: registrations.extend(ev["registrations"]))
    await cdp.send("ServiceWorker.enable")
    await _settled(lambda: asyncio.sleep(0, registrations), bool, timeout=5)
    scope = f"{base_url}/static/"
    (reg,) = {r["registrationId"] for r in registrations if r["scopeURL"] == scope and not r.get("isDeleted")}
    await cdp.send(
        "ServiceWorker.deliverPushMessage", {"origin": base_url, "registrationId": reg, "data": json.dumps(payload)}
    )
    await cdp.detach()


def _payload(
    *, chat_id: int, message_id: int, sender_name: str, preview_text: str, count: int, preview: bool
) -> dict[str, Any]:
    """The Web Push payload as the server's own code builds it (app/services/push.py)."""
    from app.services.push import Notification

    note = Notification(
        chat_id=chat_id, chat_title=None, message_id=message_id, inbox_seq=7, sender_id=1, sender_name=sender_name,
        preview=preview_text, count=count, badge=count, mention=False, committed_at=None,
    )  # fmt: skip
    return note.webpush_payload(preview=preview)


async def _open_chat_id(client: Any) -> int:
    match = re.search(r"#chat/(\d+)$", client.page.url)
    assert match, client.page.url
    return int(match.group(1))


async def test_web_push_headless_subscribe_fails_visibly(new_client, e2e_base_url: str, artifacts_dir: Path) -> None:
    """The control asks permission, fetches the VAPID key and registers the worker; headless
    Chromium's PushManager then refuses to subscribe, the control says so and stays off, and
    nothing is posted."""
    alice = await _with_permission(new_client, "alice", e2e_base_url)
    page = alice.page
    calls = _calls(page)
    toggle = page.get_by_test_id("push-toggle")
    await expect(toggle).to_have_attribute("data-state", "off")
    await expect(toggle).to_have_text("Notifications: off")

    await toggle.click()
    status = page.get_by_test_id("push-status")
    await expect(status).to_contain_text("Could not turn notifications on")
    await expect(toggle).to_have_attribute("data-state", "off")
    assert await page.evaluate("Notification.permission") == "granted"
    registration = await page.evaluate(REGISTRATION)
    assert registration == {
        "scope": f"{e2e_base_url}/static/",
        "script": f"{e2e_base_url}/static/sw.js",
        "state": "activated",
    }
    assert [(m, p) for m, p, _ in calls] == [("GET", "/push/vapid-public-key")], calls
    print(f"headless Chromium's PushManager.subscribe: {await status.text_content()!r}")
    await page.screenshot(
        path=str(artifacts_dir / "web-push-control-headless.png"), clip={"x": 0, "y": 0, "width": 1100, "height": 120}
    )


async def test_web_push_blocked_by_the_browser(new_client, e2e_base_url: str) -> None:
    """A browser that denies notifications: the control says it is blocked and asks nothing of the server."""
    bob = await new_client("bob")
    await bob.register()
    calls = _calls(bob.page)
    toggle = bob.page.get_by_test_id("push-toggle")
    await toggle.click()
    await expect(toggle).to_have_attribute("data-state", re.compile(r"^(blocked|off)$"))
    state = await toggle.get_attribute("data-state")
    permission = await bob.page.evaluate("Notification.permission")
    print(f"a browser without the permission: state {state!r}, Notification.permission {permission!r}")
    if state == "blocked":
        assert permission == "denied"
        await expect(toggle).to_be_disabled()
        await expect(bob.page.get_by_test_id("push-status")).to_contain_text("Blocked by the browser")
    else:  # a browser that leaves the question open ("default") when its prompt is dismissed
        await expect(bob.page.get_by_test_id("push-status")).to_have_text("Notifications were not allowed.")
    assert calls == [], calls


async def test_web_push_subscription_round_trip(new_client, e2e_base_url: str, artifacts_dir: Path) -> None:
    """With a subscription from the push service's stand-in: the control POSTs the contract's
    body for this device to the real server, shows "on", finds it again after a reload, and
    DELETEs it when turned off; logging out removes it too."""
    alice = await _with_permission(new_client, "alice", e2e_base_url, stand_in=True)
    page = alice.page
    calls = _calls(page)
    toggle = page.get_by_test_id("push-toggle")

    await toggle.click()
    await expect(toggle).to_have_attribute("data-state", "on")
    await expect(toggle).to_have_attribute("aria-pressed", "true")
    await page.screenshot(
        path=str(artifacts_dir / "web-push-control.png"), clip={"x": 0, "y": 0, "width": 1100, "height": 120}
    )
    await page.get_by_test_id("push-toggle").screenshot(path=str(artifacts_dir / "web-push-control-button.png"))

    key = (await page.evaluate(API_CALL, ["vapidPublicKey"]))["key"]
    stand_in = await page.evaluate("JSON.parse(localStorage.getItem('test.push-stand-in'))")
    assert stand_in["serverKey"] == key.rstrip("=") and stand_in["userVisibleOnly"] is True
    device_id = await page.evaluate("localStorage.getItem('messenger.device_id')")
    posts = [body for method, path, body in calls if (method, path) == ("POST", "/push/subscriptions")]
    assert posts == [
        {"device_id": device_id, "kind": "webpush", "endpoint": stand_in["endpoint"], "keys": stand_in["keys"]}
    ], calls
    rows = await page.evaluate(API_CALL, ["pushSubscriptions"])
    assert [(r["kind"], r["device_id"], r["endpoint"]) for r in rows] == [("webpush", device_id, stand_in["endpoint"])]

    await page.reload()
    await alice.expect_signed_in()
    await expect(toggle).to_have_attribute("data-state", "on")

    await toggle.click()
    await expect(toggle).to_have_attribute("data-state", "off")
    assert ("DELETE", f"/push/subscriptions/{rows[0]['id']}", None) in calls
    assert await page.evaluate(API_CALL, ["pushSubscriptions"]) == []
    assert await page.evaluate("localStorage.getItem('test.push-stand-in')") is None

    await toggle.click()
    await expect(toggle).to_have_attribute("data-state", "on")
    await page.get_by_test_id("logout-button").click()
    await expect(page.get_by_test_id("login-form")).to_be_visible()
    await alice.login()
    assert await page.evaluate(API_CALL, ["pushSubscriptions"]) == []
    await expect(toggle).to_have_attribute("data-state", "off")


async def test_web_push_worker_shows_one_notification_per_chat(new_client, e2e_base_url: str) -> None:
    """Pushes delivered to the worker by Chromium become notifications: the sender and the
    preview, tagged by chat so a newer push replaces the older one; without a preview
    (PUSH_PREVIEW=false) a generic text."""
    alice = await _with_permission(new_client, "alice", e2e_base_url)
    scope = await alice.page.evaluate(
        "import('/static/notifications.js').then((m) => m.registerWorker()).then((r) => r.scope)"
    )
    assert scope == f"{e2e_base_url}/static/"

    # The first push, then a newer one to the same chat that replaces its notification.
    pushes_and_shown = [
        (dict(chat_id=41, message_id=900, sender_name="bob", preview_text="are you there?", count=1),
         [{"title": "bob", "body": "are you there?", "tag": "chat-41",
           "data": {"chat_id": 41, "message_id": 900, "url": "/?chat=41", "badge": 1}}]),
        (dict(chat_id=41, message_id=901, sender_name="bob", preview_text="hello?", count=2),
         [{"title": "bob", "body": "hello? (+1 more)", "tag": "chat-41",
           "data": {"chat_id": 41, "message_id": 901, "url": "/?chat=41", "badge": 2}}]),
    ]  # fmt: skip
    for fields, expected in pushes_and_shown:
        await _deliver_push(alice, e2e_base_url, _payload(**fields, preview=True))
        assert await _notifications_once(alice, lambda v, expected=expected: v == expected) == expected

    private = _payload(chat_id=42, message_id=950, sender_name="carol", preview_text="secret", count=1, preview=False)
    assert "body" not in private and "sender" not in private
    await _deliver_push(alice, e2e_base_url, private)
    assert len(await _notifications_once(alice, lambda v: len(v) == 2)) == 2
    shown = {n["tag"]: (n["title"], n["body"]) for n in await alice.page.evaluate(NOTIFICATIONS)}
    assert shown == {"chat-41": ("bob", "hello? (+1 more)"), "chat-42": ("New message", "You have a new message")}


async def test_web_push_click_opens_the_chat(new_client, e2e_base_url: str) -> None:
    """A click on the notification (the worker's notificationclick handler, run in the worker
    with the real Notification) tells the open page, outside the worker's scope, to open that
    chat: the page shows the conversation from the real server. /?chat=ID, what a click opens
    when no page is open, opens it too."""
    alice = await _with_permission(new_client, "alice", e2e_base_url)
    bob = await new_client("bob")
    await bob.register()
    await alice.start_direct_chat(bob.username)
    await alice.send("ping for the notification")
    chat_id = await _open_chat_id(alice)
    message_id = int(await alice.message("ping for the notification").get_attribute("data-message-id"))

    await alice.page.evaluate("import('/static/notifications.js').then((m) => m.registerWorker())")
    await alice.page.goto("/")  # signed in, no chat open
    await alice.expect_signed_in()
    await expect(alice.page.get_by_test_id("chat-title")).to_have_text("No chat open")
    await _deliver_push(
        alice, e2e_base_url,
        _payload(chat_id=chat_id, message_id=message_id, sender_name=bob.username, preview_text="hi", count=1, preview=True),
    )  # fmt: skip
    assert len(await _notifications_once(alice, lambda v: len(v) == 1)) == 1

    (worker,) = [w for w in alice.context.service_workers if w.url == f"{e2e_base_url}/static/sw.js"]
    windows = await worker.evaluate(
        """async () => {
             const [notification] = await self.registration.getNotifications();
             self.dispatchEvent(new NotificationEvent('notificationclick', { notification }));
             const all = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
             return all.map((c) => new URL(c.url).pathname);
           }"""
    )
    assert windows == ["/"]
    await expect(alice.page.get_by_test_id("chat-title")).to_have_text(bob.username)
    await expect(alice.message("ping for the notification")).to_have_count(1)
    assert await _notifications_once(alice, lambda v: v == []) == []  # the click closed it
    assert alice.page.url.endswith(f"/#chat/{chat_id}")

    await alice.page.goto(f"/?chat={chat_id}")
    await expect(alice.page.get_by_test_id("chat-title")).to_have_text(bob.username)
    await expect(alice.message("ping for the notification")).to_have_count(1)
    assert alice.page.url == f"{e2e_base_url}/#chat/{chat_id}"

    # Signed out, the link waits for the sign-in.
    await alice.page.get_by_test_id("logout-button").click()
    await alice.page.goto(f"/?chat={chat_id}")
    await expect(alice.page.get_by_test_id("login-form")).to_be_visible()
    await alice.login()
    await expect(alice.page.get_by_test_id("chat-title")).to_have_text(bob.username)
    await expect(alice.message("ping for the notification")).to_have_count(1)
