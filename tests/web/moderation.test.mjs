// Moderation (app/static/moderation.js): the report, resolve, mute and ban request bodies and
// their checks; who may ban or mute whom (only over a lower role); the composer's text for a
// send refused by a mute (403 details.until) or by slow mode (429 Retry-After); the admin's
// report queue merged from pages and live `admin_report` frames without a resolved report
// coming back. Run with `node --test tests/web/`.

process.env.TZ = "Europe/Berlin";

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { INBOX_TYPES, ServerEvent } from "../../app/static/codes.js";
import {
  applyAdminReport,
  applyReportPage,
  banRequest,
  blockedUntil,
  canModerateChat,
  canModerateMember,
  createReportsState,
  markResolved,
  muteRequest,
  NOTE_MAX,
  reportRequest,
  reportRow,
  resetReportsState,
  resolveRequest,
  sendRefusal,
  slowModeFromSelect,
  slowModeLabel,
  slowModeOptions,
  sortedReports,
} from "../../app/static/moderation.js";

const NOW = Date.parse("2026-03-29T00:30:00Z");

describe("codes", () => {
  test("admin_report is a server event but not an inbox event", () => {
    assert.equal(ServerEvent.ADMIN_REPORT, "admin_report");
    assert.equal(INBOX_TYPES.has("admin_report"), false);
  });
});

describe("request bodies", () => {
  test("report: a known reason, the comment trimmed and left out when empty", () => {
    assert.deepEqual(reportRequest("spam", "  "), { body: { reason: "spam" } });
    assert.deepEqual(reportRequest("abuse", " rude "), { body: { reason: "abuse", comment: "rude" } });
    assert.deepEqual(Object.keys(reportRequest("nope", "").errors), ["reason"]);
    assert.ok(reportRequest("other", "x".repeat(NOTE_MAX + 1)).errors.comment);
  });

  test("resolve: one of three actions, an optional note", () => {
    assert.deepEqual(resolveRequest("dismiss", ""), { body: { action: "dismiss" } });
    assert.deepEqual(resolveRequest("delete_message", "ok"), { body: { action: "delete_message", note: "ok" } });
    assert.ok(resolveRequest("ban", "").errors.action);
  });

  test("mute: from now, custom in the future, unmute is a past time", () => {
    assert.deepEqual(muteRequest(600, { now: NOW }), { body: { until: new Date(NOW + 600_000).toISOString() } });
    assert.ok(Date.parse(muteRequest("unmute", { now: NOW }).body.until) < NOW);
    // Local Berlin time across the DST change (02:00 -> 03:00 on 2026-03-29).
    assert.deepEqual(muteRequest("custom", { now: NOW, custom: "2026-03-29T04:00" }), { body: { until: "2026-03-29T02:00:00.000Z" } });
    assert.ok(muteRequest("custom", { now: NOW, custom: "" }).errors.until);
    assert.ok(muteRequest("custom", { now: NOW, custom: "2020-01-01T00:00" }).errors.until);
  });

  test("ban: no until bans for good; a past until and a long reason are refused", () => {
    assert.deepEqual(banRequest({}, NOW), { body: {} });
    assert.deepEqual(banRequest({ until: "2026-04-01T12:00", reason: " spam " }, NOW), {
      body: { until: "2026-04-01T10:00:00.000Z", reason: "spam" },
    });
    assert.ok(banRequest({ until: "2020-01-01T00:00" }, NOW).errors.until);
    assert.ok(banRequest({ reason: "x".repeat(NOTE_MAX + 1) }, NOW).errors.reason);
  });

  test("slow mode: select values, labels, an unlisted current value kept", () => {
    assert.equal(slowModeFromSelect(""), null);
    assert.equal(slowModeFromSelect("30"), 30);
    assert.throws(() => slowModeFromSelect("0"), RangeError);
    assert.throws(() => slowModeFromSelect("86401"), RangeError);
    assert.equal(slowModeLabel(null), "Off");
    assert.equal(slowModeLabel(60), "1 min");
    assert.equal(slowModeLabel(120), "2 min");
    assert.equal(slowModeLabel(45), "45 s");
    assert.deepEqual(slowModeOptions(null).map((o) => o.value), [null, 10, 30, 60, 300, 3600]);
    assert.equal(slowModeOptions(45).at(-1).value, 45);
  });
});

describe("who may moderate", () => {
  const chat = {
    type: "group",
    members: [
      { user_id: 1, role: "owner" },
      { user_id: 2, role: "admin" },
      { user_id: 3, role: "member" },
      { user_id: 4, role: "admin" },
    ],
  };

  test("owner and admins of a group; never a direct chat", () => {
    assert.equal(canModerateChat(chat, 1), true);
    assert.equal(canModerateChat(chat, 2), true);
    assert.equal(canModerateChat(chat, 3), false);
    assert.equal(canModerateChat({ ...chat, type: "direct" }, 1), false);
  });

  test("only over a lower role, never oneself or a non-member", () => {
    assert.equal(canModerateMember(chat, 1, 2), true);
    assert.equal(canModerateMember(chat, 1, 3), true);
    assert.equal(canModerateMember(chat, 2, 3), true);
    assert.equal(canModerateMember(chat, 2, 4), false);
    assert.equal(canModerateMember(chat, 2, 1), false);
    assert.equal(canModerateMember(chat, 3, 3), false);
    assert.equal(canModerateMember(chat, 1, 1), false);
    assert.equal(canModerateMember(chat, 1, 99), false);
  });

  test("a member's mute shows while it lies ahead", () => {
    assert.equal(blockedUntil({ send_blocked_until: null }, NOW), null);
    assert.equal(blockedUntil({ send_blocked_until: "2026-03-29T00:00:00Z" }, NOW), null);
    assert.equal(blockedUntil({ send_blocked_until: "2026-03-29T01:00:00Z" }, NOW).toISOString(), "2026-03-29T01:00:00.000Z");
  });
});

describe("refused sends", () => {
  const iso = { fmt: (d) => d.toISOString() };

  test("forbidden with details.until (REST 403 or a WebSocket error frame): muted", () => {
    const r = sendRefusal({ status: 403, code: "forbidden", details: { until: "2026-03-29T01:00:00Z" } }, iso);
    assert.equal(r.kind, "muted");
    assert.equal(r.text, "You are muted until 2026-03-29T01:00:00.000Z");
    assert.equal(sendRefusal({ code: "forbidden", details: { until: "2026-03-29T01:00:00Z" } }, iso).kind, "muted");
  });

  test("rate_limited in slow mode: whole seconds, at least 1, from Retry-After or details", () => {
    assert.equal(sendRefusal({ status: 429, code: "rate_limited", retryAfter: 27 }, { slowMode: 30 }).text, "Slow mode: wait 27 s");
    assert.equal(sendRefusal({ code: "rate_limited", message: "This chat is in slow mode: one message per 30 s.", details: { retry_after: 12 } }).text,
      "Slow mode: wait 12 s");
    assert.equal(sendRefusal({ status: 429, code: "rate_limited", retryAfter: null }, { slowMode: 10 }).seconds, 1);
  });

  test("the sender's own rate limit is not slow mode", () => {
    assert.equal(sendRefusal({ status: 429, code: "rate_limited", message: "Too many requests; retry later.", retryAfter: 3 }).kind, "rate");
  });

  test("other errors are not refusals", () => {
    assert.equal(sendRefusal({ status: 403, code: "forbidden", details: null }), null);
    assert.equal(sendRefusal({ status: 500, code: "internal" }), null);
    assert.equal(sendRefusal(null), null);
  });
});

describe("report queue", () => {
  const rep = (id, extra = {}) => ({
    id,
    message_id: 100 + id,
    chat_id: 7,
    reporter_id: 3,
    reason: "spam",
    comment: null,
    status: "open",
    action: null,
    created_at: new Date(NOW + id * 1000).toISOString(),
    resolved_at: null,
    resolved_by: null,
    ...extra,
  });

  test("a page lists open reports newest first, with the message or gone", () => {
    const s = createReportsState();
    applyReportPage(s, {
      items: [rep(2, { message: null }), rep(1, { message: { content: "buy now", is_deleted: false } })],
    });
    assert.deepEqual(sortedReports(s).map((r) => r.id), [2, 1]);
    assert.equal(reportRow(s.open.get(2)).text, "gone");
    assert.equal(reportRow(s.open.get(1)).text, "buy now");
    assert.equal(reportRow(s.open.get(1)).reason, "Spam");
  });

  test("a live frame adds a new report at the top once; duplicates are not new", () => {
    const s = createReportsState();
    applyReportPage(s, { items: [rep(1, { message: { content: "a" } })] });
    const added = applyAdminReport(s, { report: rep(5, { comment: "look" }) });
    assert.equal(added.id, 5);
    assert.equal(sortedReports(s)[0].id, 5);
    assert.equal(reportRow(added).text, null); // unknown until a page
    assert.equal(applyAdminReport(s, { report: rep(5) }), null);
    assert.equal(applyAdminReport(s, {}), null);
  });

  test("a frame keeps what a page said of the message", () => {
    const s = createReportsState();
    applyReportPage(s, { items: [rep(1, { message: { content: "a" } })] });
    applyAdminReport(s, { report: rep(1) });
    assert.equal(reportRow(s.open.get(1)).text, "a");
  });

  test("a resolved report never comes back, from a late frame or a stale page", () => {
    const s = createReportsState();
    applyReportPage(s, { items: [rep(1), rep(2)] });
    assert.equal(markResolved(s, { id: 1, status: "resolved" }), true);
    assert.equal(applyAdminReport(s, { report: rep(1) }), null);
    applyReportPage(s, { items: [rep(1), rep(2)] });
    assert.deepEqual(sortedReports(s).map((r) => r.id), [2]);
  });

  test("a page drops reports resolved elsewhere, but keeps one that arrived live after it was asked", () => {
    const s = createReportsState();
    applyReportPage(s, { items: [rep(1), rep(2)] });
    applyAdminReport(s, { report: rep(3) });
    applyReportPage(s, { items: [rep(2)] });
    assert.deepEqual(sortedReports(s).map((r) => r.id), [3, 2]);
    resetReportsState(s);
    assert.equal(s.open.size, 0);
  });
});
