// Web Push rules (app/static/push.js), shared by the page and the service worker, run with
// `node --test`. The payloads are the shape app/services/push.py's webpush_payload sends.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  OPEN_CHAT,
  SW_SCOPE,
  SW_URL,
  base64UrlToBytes,
  bytesToBase64Url,
  chatIdFromSearch,
  chatUrl,
  notificationFor,
  openChatRequest,
  parsePayload,
  sameKey,
  subscriptionBody,
} from "../../app/static/push.js";

// A VAPID public key as the server hands it out: an uncompressed P-256 point, 65 bytes, no padding.
const VAPID = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM";

describe("base64UrlToBytes", () => {
  test("decodes a VAPID key into the 65 bytes of an uncompressed point", () => {
    const bytes = base64UrlToBytes(VAPID);
    assert.ok(bytes instanceof Uint8Array);
    assert.equal(bytes.length, 65);
    assert.equal(bytes[0], 4);
    assert.equal(bytesToBase64Url(bytes), VAPID);
  });

  test("uses the URL-safe alphabet, with or without padding", () => {
    assert.deepEqual([...base64UrlToBytes("-_8")], [0xfb, 0xff]);
    assert.deepEqual([...base64UrlToBytes("-_8=")], [0xfb, 0xff]);
    assert.deepEqual([...base64UrlToBytes("")], []);
    assert.equal(bytesToBase64Url(new Uint8Array([0xfb, 0xff])), "-_8");
    assert.equal(bytesToBase64Url(new Uint8Array([0xfb, 0xff]).buffer), "-_8");
  });

  test("refuses what is not URL-safe base64", () => {
    assert.throws(() => base64UrlToBytes("a+b/"), /URL-safe/);
    assert.throws(() => base64UrlToBytes("abcde"), /URL-safe/);
  });
});

test("sameKey compares a subscription's applicationServerKey with the server's key", () => {
  assert.equal(sameKey(base64UrlToBytes(VAPID).buffer, VAPID), true);
  assert.equal(sameKey(base64UrlToBytes(VAPID).buffer, `${VAPID}=`), true);
  assert.equal(sameKey(new Uint8Array(65).buffer, VAPID), false);
  assert.equal(sameKey(null, VAPID), true); // a browser that does not say: keep the subscription
});

describe("subscriptionBody", () => {
  const sub = { endpoint: "https://push.example.com/send/abc", expirationTime: null, keys: { p256dh: "BP", auth: "au" } };

  test("is the contract's webpush body for this device", () => {
    assert.deepEqual(subscriptionBody(sub, "device-1"), {
      device_id: "device-1",
      kind: "webpush",
      endpoint: "https://push.example.com/send/abc",
      keys: { p256dh: "BP", auth: "au" },
    });
  });

  test("refuses an incomplete subscription or a missing device id", () => {
    assert.throws(() => subscriptionBody({ endpoint: "https://x" }, "d"), /incomplete/);
    assert.throws(() => subscriptionBody({ ...sub, keys: { p256dh: "BP" } }, "d"), /incomplete/);
    assert.throws(() => subscriptionBody(null, "d"), /incomplete/);
    assert.throws(() => subscriptionBody(sub, ""), /device/);
  });
});

describe("chat links", () => {
  test("chatUrl and chatIdFromSearch agree", () => {
    assert.equal(chatUrl(42), "/?chat=42");
    assert.equal(chatIdFromSearch(new URL(chatUrl(42), "https://m.example").search), 42);
  });

  test("chatIdFromSearch takes positive integers only", () => {
    assert.equal(chatIdFromSearch("?chat=7&x=1"), 7);
    assert.equal(chatIdFromSearch("?x=1&chat=7"), 7);
    for (const bad of ["", "?chat=", "?chat=0", "?chat=-3", "?chat=1e3", "?chat=abc", "?chat=07", "?other=1"]) {
      assert.equal(chatIdFromSearch(bad), null, bad);
    }
  });

  test("openChatRequest reads the worker's message and nothing else", () => {
    assert.equal(openChatRequest({ type: OPEN_CHAT, chat_id: 9 }), 9);
    assert.equal(openChatRequest({ type: "other", chat_id: 9 }), null);
    assert.equal(openChatRequest({ type: OPEN_CHAT, chat_id: "x" }), null);
    assert.equal(openChatRequest({ type: OPEN_CHAT, chat_id: 0 }), null);
    assert.equal(openChatRequest(null), null);
  });

  test("the worker lives in /static/, its scope no wider than its folder", () => {
    assert.ok(SW_URL.startsWith(SW_SCOPE));
  });
});

describe("notificationFor", () => {
  const base = { type: "message", chat_id: 12, message_id: 301, inbox_seq: 55, count: 1, badge: 4, mention: false };
  const preview = { sender: { id: 3, name: "alice" }, chat_title: null, body: "see you at 6" };

  test("a direct chat: the sender as title, the preview as body, collapsed per chat", () => {
    const { title, options, badge } = notificationFor({ ...base, ...preview });
    assert.equal(title, "alice");
    assert.equal(options.body, "see you at 6");
    assert.equal(options.tag, "chat-12");
    assert.equal(options.renotify, true);
    assert.deepEqual(options.data, { chat_id: 12, message_id: 301, url: "/?chat=12", badge: 4 });
    assert.equal(badge, 4);
  });

  test("a group names the chat, and a burst says how many more", () => {
    const { title, options } = notificationFor({ ...base, ...preview, chat_title: "Team", count: 3 });
    assert.equal(title, "alice in Team");
    assert.equal(options.body, "see you at 6 (+2 more)");
  });

  test("without a preview (PUSH_PREVIEW=false): generic text, still per chat", () => {
    assert.deepEqual(
      [notificationFor(base).title, notificationFor(base).options.body, notificationFor(base).options.tag],
      ["New message", "You have a new message", "chat-12"],
    );
    const burst = notificationFor({ ...base, count: 5, mention: true });
    assert.equal(burst.title, "You were mentioned");
    assert.equal(burst.options.body, "5 new messages");
  });

  test("a sender without text (an attachment) still says something", () => {
    const { options } = notificationFor({ ...base, ...preview, body: "" });
    assert.equal(options.body, "Sent a message");
  });

  test("a payload that is not a message is shown generically, never thrown on", () => {
    for (const payload of [null, undefined, "text", {}, { chat_id: "x", count: "many", badge: -1 }]) {
      const { title, options, badge } = notificationFor(payload);
      assert.equal(title, "New message");
      assert.equal(options.tag, "messenger");
      assert.equal(options.data.url, "/");
      assert.equal(badge, null);
    }
  });

  test("parsePayload: JSON objects only", () => {
    assert.deepEqual(parsePayload('{"chat_id": 1}'), { chat_id: 1 });
    assert.equal(parsePayload("Test push message from DevTools."), null);
    assert.equal(parsePayload("3"), null);
  });
});
