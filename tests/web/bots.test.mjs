// The Bots dialog's rules (app/static/bots.js): bots merged from GET /bots, our own changes
// and `bot_updated` without one undoing a later one, the webhook's state in words, the
// deliveries table (newest first, one row per attempt), and the request bodies the forms
// send. Run with `node --test tests/web/`.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  applyBotPage,
  applyBotUpdated,
  beginLoad,
  botLabel,
  createBotsState,
  deliveryRow,
  fieldErrors,
  formatDuration,
  mergeDeliveries,
  newBotRequest,
  removeBot,
  resetBotsState,
  rewindRequest,
  setWebhook,
  sortedBots,
  upsertBot,
  webhookChanges,
  webhookStatus,
} from "../../app/static/bots.js";
import { INBOX_TYPES, ServerEvent } from "../../app/static/codes.js";

const bot = (id, extra = {}) => ({ id, username: `bot${id}`, display_name: `bot${id}`, is_bot: true, ...extra });
const hook = (extra = {}) => ({
  url: "https://example.com/hook",
  enabled: true,
  cursor: 0,
  pending: 0,
  last_success_at: null,
  last_error: null,
  disabled_reason: null,
  ...extra,
});

describe("merging bots", () => {
  test("a full GET /bots fills the state, in the order the bots were made", () => {
    const s = createBotsState();
    applyBotPage(s, [{ bot: bot(3), webhook: null }, { bot: bot(1), webhook: hook() }], beginLoad(s), { complete: true });
    assert.deepEqual(sortedBots(s).map((e) => e.bot.id), [1, 3]);
    assert.equal(s.bots.get(1).webhook.url, "https://example.com/hook");
    assert.equal(s.bots.get(3).webhook, null);
    assert.equal(s.loaded, true);
  });

  test("bot_updated replaces that bot's webhook and leaves the others alone", () => {
    const s = createBotsState();
    applyBotPage(s, [{ bot: bot(1), webhook: hook() }, { bot: bot(2), webhook: hook() }], beginLoad(s), { complete: true });
    const entry = applyBotUpdated(s, {
      inbox_seq: 7,
      bot: bot(1),
      webhook: hook({ enabled: false, disabled_reason: "No success for 24 h: HTTP 503", pending: 4 }),
    });
    assert.equal(entry.bot.id, 1);
    assert.equal(s.bots.get(1).webhook.enabled, false);
    assert.equal(s.bots.get(1).webhook.disabled_reason, "No success for 24 h: HTTP 503");
    assert.equal(s.bots.get(2).webhook.enabled, true);
  });

  test("a duplicate or older bot_updated changes nothing", () => {
    const s = createBotsState();
    assert.ok(applyBotUpdated(s, { inbox_seq: 5, bot: bot(1), webhook: hook({ enabled: false, disabled_reason: "x" }) }));
    assert.equal(applyBotUpdated(s, { inbox_seq: 5, bot: bot(1), webhook: hook() }), null);
    assert.equal(applyBotUpdated(s, { inbox_seq: 4, bot: bot(1), webhook: hook() }), null);
    assert.equal(s.bots.get(1).webhook.enabled, false);
    assert.ok(applyBotUpdated(s, { inbox_seq: 6, bot: bot(1), webhook: hook() }));
    assert.equal(s.bots.get(1).webhook.enabled, true);
  });

  test("bot_updated for a bot not listed yet (made on another device) adds it", () => {
    const s = createBotsState();
    applyBotPage(s, [], beginLoad(s), { complete: true });
    applyBotUpdated(s, { inbox_seq: 1, bot: bot(9), webhook: hook() });
    assert.deepEqual(sortedBots(s).map((e) => e.bot.id), [9]);
  });

  test("bot_updated without a bot is ignored", () => {
    const s = createBotsState();
    assert.equal(applyBotUpdated(s, { inbox_seq: 1 }), null);
    assert.equal(applyBotUpdated(s, null), null);
    assert.equal(s.bots.size, 0);
  });

  test("a GET /bots asked for before a bot_updated does not undo it", () => {
    const s = createBotsState();
    applyBotPage(s, [{ bot: bot(1), webhook: hook() }], beginLoad(s), { complete: true });
    const since = beginLoad(s); // the list is asked for ...
    applyBotUpdated(s, { inbox_seq: 3, bot: bot(1), webhook: hook({ enabled: false, disabled_reason: "down" }) });
    // ... and answers with what it read before the event.
    applyBotPage(s, [{ bot: bot(1), webhook: hook() }], since, { complete: true });
    assert.equal(s.bots.get(1).webhook.enabled, false);
    // The next list is newer than the event: it is the truth again.
    applyBotPage(s, [{ bot: bot(1), webhook: hook({ enabled: true }) }], beginLoad(s), { complete: true });
    assert.equal(s.bots.get(1).webhook.enabled, true);
  });

  test("a complete list drops bots deleted elsewhere but keeps one made while it loaded", () => {
    const s = createBotsState();
    applyBotPage(s, [{ bot: bot(1), webhook: null }, { bot: bot(2), webhook: null }], beginLoad(s), { complete: true });
    const since = beginLoad(s);
    upsertBot(s, { bot: bot(5), webhook: null }); // POST /bots answered meanwhile
    applyBotPage(s, [{ bot: bot(1), webhook: null }], since, { complete: true });
    assert.deepEqual(sortedBots(s).map((e) => e.bot.id), [1, 5]);
  });

  test("pages of one walk are merged: bots of earlier pages are not dropped", () => {
    const s = createBotsState();
    const since = beginLoad(s);
    const seen = applyBotPage(s, [{ bot: bot(1), webhook: null }], since);
    applyBotPage(s, [{ bot: bot(2), webhook: null }], since, { complete: true, seen });
    assert.deepEqual(sortedBots(s).map((e) => e.bot.id), [1, 2]);
  });

  test("a PATCH answer, a rewind's Webhook, a delete", () => {
    const s = createBotsState();
    upsertBot(s, { bot: bot(1), webhook: hook() });
    upsertBot(s, { bot: bot(1, { display_name: "Helper" }), webhook: null }); // webhook removed
    assert.equal(s.bots.get(1).webhook, null);
    assert.equal(s.bots.get(1).bot.display_name, "Helper");
    setWebhook(s, 1, hook({ cursor: 2, pending: 5 }));
    assert.equal(s.bots.get(1).webhook.cursor, 2);
    assert.equal(setWebhook(s, 99, hook()), null);
    s.deliveries.set(1, { items: [], next_cursor: null, loaded: true });
    assert.equal(removeBot(s, 1), true);
    assert.equal(s.bots.size, 0);
    assert.equal(s.deliveries.size, 0);
  });

  test("POST /bots's answer (no webhook key) keeps a webhook already known", () => {
    const s = createBotsState();
    upsertBot(s, { bot: bot(1), webhook: hook() });
    upsertBot(s, { bot: bot(1) });
    assert.equal(s.bots.get(1).webhook.url, "https://example.com/hook");
  });

  test("resetBotsState forgets everything", () => {
    const s = createBotsState();
    applyBotPage(s, [{ bot: bot(1), webhook: null }], beginLoad(s), { complete: true });
    mergeDeliveries(s, 1, { items: [{ id: 1 }] });
    resetBotsState(s);
    assert.equal(s.bots.size, 0);
    assert.equal(s.deliveries.size, 0);
    assert.equal(s.loaded, false);
  });

  test("bot_updated is an inbox event the socket applies in order", () => {
    assert.equal(ServerEvent.BOT_UPDATED, "bot_updated");
    assert.equal(INBOX_TYPES.has("bot_updated"), true);
  });
});

describe("what a bot and its webhook look like", () => {
  test("botLabel names the display name and the username, once when they are the same", () => {
    assert.equal(botLabel(bot(1)), "@bot1");
    assert.equal(botLabel(bot(1, { display_name: "Weather" })), "Weather (@bot1)");
    assert.equal(botLabel(bot(1, { display_name: "  " })), "@bot1");
  });

  test("webhookStatus in each state", () => {
    assert.deepEqual(webhookStatus(null), { kind: "none", text: "No webhook" });
    assert.equal(webhookStatus(hook()).kind, "ok");
    assert.equal(webhookStatus(hook()).text, "Up to date");
    assert.deepEqual(webhookStatus(hook({ pending: 3 })), { kind: "delivering", text: "Delivering (3 pending)" });
    const failing = webhookStatus(hook({ pending: 3, last_error: "HTTP 503" }));
    assert.equal(failing.kind, "failing");
    assert.match(failing.text, /HTTP 503/);
    const disabled = webhookStatus(hook({ enabled: false, pending: 2, disabled_reason: "No success for 24 h", last_error: "HTTP 503" }));
    assert.deepEqual(disabled, { kind: "disabled", text: "Disabled (2 waiting): No success for 24 h" });
    assert.deepEqual(webhookStatus(hook({ enabled: false, disabled_reason: "Disabled by its owner." })), {
      kind: "disabled",
      text: "Disabled by its owner",
    });
    assert.deepEqual(webhookStatus(hook({ enabled: false })), { kind: "disabled", text: "Disabled" });
  });

  test("formatDuration", () => {
    assert.equal(formatDuration(null), "—");
    assert.equal(formatDuration(undefined), "—");
    assert.equal(formatDuration(0), "0 ms");
    assert.equal(formatDuration(87.4), "87 ms");
    assert.equal(formatDuration(1500), "1.5 s");
    assert.equal(formatDuration(10_000), "10 s");
    assert.equal(formatDuration(125_000), "2 min 5 s");
  });
});

describe("deliveries", () => {
  const d = (id, at, extra = {}) => ({
    id,
    delivery_id: `d${id}`,
    first_inbox_seq: 1,
    last_inbox_seq: 3,
    attempt: 1,
    status: 200,
    duration_ms: 12,
    error: null,
    at,
    ...extra,
  });

  test("rows are newest first, one per attempt id, whatever order pages come in", () => {
    const s = createBotsState();
    mergeDeliveries(s, 1, { items: [d(2, "2026-01-01T00:00:02Z"), d(1, "2026-01-01T00:00:01Z")], next_cursor: "c1" });
    mergeDeliveries(s, 1, { items: [d(3, "2026-01-01T00:00:03Z"), d(2, "2026-01-01T00:00:02Z")], next_cursor: "c2" }, { fresh: true });
    const entry = s.deliveries.get(1);
    assert.deepEqual(entry.items.map((x) => x.id), [3, 2, 1]);
    assert.equal(entry.next_cursor, "c1"); // a refresh of the first page keeps where "older" goes on
    mergeDeliveries(s, 1, { items: [d(0, "2026-01-01T00:00:00Z")], next_cursor: null });
    assert.deepEqual(s.deliveries.get(1).items.map((x) => x.id), [3, 2, 1, 0]);
    assert.equal(s.deliveries.get(1).next_cursor, null);
  });

  test("attempts at the same moment: the higher id is newer", () => {
    const s = createBotsState();
    mergeDeliveries(s, 1, { items: [d(4, "2026-01-01T00:00:00Z"), d(5, "2026-01-01T00:00:00Z")] });
    assert.deepEqual(s.deliveries.get(1).items.map((x) => x.id), [5, 4]);
  });

  test("deliveryRow: a success, an HTTP error, no answer", () => {
    const ok = deliveryRow(d(1, "2026-01-01T00:00:00Z"));
    assert.equal(ok.ok, true);
    assert.equal(ok.status, "200");
    assert.equal(ok.events, "1–3");
    assert.equal(ok.duration, "12 ms");
    assert.equal(ok.attempt, "1");
    assert.equal(ok.error, "");
    const bad = deliveryRow(d(2, null, { status: 503, attempt: 4, error: "HTTP 503", first_inbox_seq: 5, last_inbox_seq: 5 }));
    assert.equal(bad.ok, false);
    assert.equal(bad.status, "503");
    assert.equal(bad.events, "5");
    assert.equal(bad.attempt, "4");
    assert.equal(bad.error, "HTTP 503");
    const none = deliveryRow(d(3, null, { status: null, duration_ms: null, error: "The host resolves to a non-public address." }));
    assert.equal(none.status, "no answer");
    assert.equal(none.duration, "—");
    assert.equal(none.ok, false);
  });
});

describe("request bodies", () => {
  test("newBotRequest leaves out empty optional fields and trims", () => {
    assert.deepEqual(newBotRequest({ username: " helper_1 " }), { body: { username: "helper_1" } });
    assert.deepEqual(newBotRequest({ username: "helper", displayName: " Helper ", webhookUrl: " https://h.example/x " }), {
      body: { username: "helper", display_name: "Helper", webhook_url: "https://h.example/x" },
    });
  });

  test("newBotRequest refuses what the server would refuse anyway", () => {
    assert.equal(newBotRequest({ username: "" }).field, "username");
    assert.equal(newBotRequest({ username: "ab" }).field, "username");
    assert.equal(newBotRequest({ username: "has space" }).field, "username");
    assert.equal(newBotRequest({ username: "x".repeat(33) }).field, "username");
    assert.equal(newBotRequest({ username: "okay", displayName: "x".repeat(65) }).field, "display_name");
    assert.equal(newBotRequest({ username: "okay", webhookUrl: `https://h/${"x".repeat(2048)}` }).field, "webhook_url");
    // Whether a URL's host is allowed is the server's call (it resolves it): sent as is.
    assert.deepEqual(newBotRequest({ username: "okay", webhookUrl: "http://127.0.0.1/x" }).body.webhook_url, "http://127.0.0.1/x");
  });

  test("webhookChanges sends only what changed", () => {
    const current = hook();
    assert.deepEqual(webhookChanges(current, { url: current.url, enabled: true }), { body: null });
    assert.deepEqual(webhookChanges(current, { url: "https://other.example/h", enabled: true }), {
      body: { webhook_url: "https://other.example/h" },
    });
    assert.deepEqual(webhookChanges(current, { url: current.url, enabled: false }), { body: { webhook_enabled: false } });
    assert.deepEqual(webhookChanges(hook({ enabled: false, disabled_reason: "x" }), { url: current.url, enabled: true }), {
      body: { webhook_enabled: true },
    });
    // Empty: the webhook goes (null); there was none: nothing to do.
    assert.deepEqual(webhookChanges(current, { url: "  ", enabled: true }), { body: { webhook_url: null } });
    assert.deepEqual(webhookChanges(null, { url: "", enabled: true }), { body: null });
    // A first URL, turned off from the start.
    assert.deepEqual(webhookChanges(null, { url: "https://h.example/x", enabled: false }), {
      body: { webhook_url: "https://h.example/x", webhook_enabled: false },
    });
  });

  test("rewindRequest takes a whole number from 0", () => {
    assert.deepEqual(rewindRequest("0"), { body: { inbox_seq: 0 } });
    assert.deepEqual(rewindRequest(" 42 "), { body: { inbox_seq: 42 } });
    for (const bad of ["", "-1", "1.5", "abc", "9".repeat(30)]) assert.ok(rewindRequest(bad).error, bad);
  });

  test("fieldErrors reads the envelope's details", () => {
    const err = {
      code: "validation_error",
      details: [
        { field: "webhook_url", message: "The host is not a public address." },
        { loc: ["body", "username"], msg: "too short" },
        "free text",
      ],
    };
    assert.deepEqual(fieldErrors(err), { webhook_url: "The host is not a public address.", username: "too short" });
    assert.deepEqual(fieldErrors({ code: "conflict", details: null }), {});
    assert.deepEqual(fieldErrors(null), {});
  });
});
