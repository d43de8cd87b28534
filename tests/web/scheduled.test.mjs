// Scheduled and disappearing messages (app/static/scheduled.js): the pending list merged from
// GET /scheduled, our own answers and `scheduled_updated` / `scheduled_failed` without one
// undoing a later one (a message that left never comes back), soonest first; the
// datetime-local <-> ISO-with-offset conversions the composer and the edit form send; the chat
// timer's labels and choices. Run with `node --test tests/web/`.

// The zone the conversions are read in: one with a DST change, set before any Date is made
// (Node re-reads TZ when it is assigned; each test file runs in its own process).
process.env.TZ = "Europe/Berlin";

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { INBOX_TYPES, ServerEvent } from "../../app/static/codes.js";
import {
  applyScheduledFailed,
  applyScheduledPage,
  applyScheduledUpdated,
  beginLoad,
  compareScheduled,
  createScheduledState,
  failureText,
  isoWithOffset,
  localInputToIso,
  offsetText,
  parseLocalInput,
  removeScheduled,
  resetScheduledState,
  scheduledChanges,
  scheduledFor,
  sendAtFromInput,
  toLocalInput,
  ttlBadge,
  ttlFromSelect,
  ttlLabel,
  ttlOptions,
  TTL_CHOICES,
  upsertScheduled,
} from "../../app/static/scheduled.js";

const CHAT = 7;
const s = (id, sendAt, extra = {}) => ({
  id,
  chat_id: CHAT,
  content: `m${id}`,
  reply_to_id: null,
  attachment_ids: [],
  client_msg_id: `c${id}`,
  send_at: sendAt,
  created_at: "2026-12-06T10:00:00Z",
  ...extra,
});
const ids = (state, chatId = CHAT) => scheduledFor(state, chatId).map((x) => x.id);

describe("the socket counts both events", () => {
  test("scheduled_updated and scheduled_failed are inbox events (else the next event looks like a gap)", () => {
    assert.equal(ServerEvent.SCHEDULED_UPDATED, "scheduled_updated");
    assert.equal(ServerEvent.SCHEDULED_FAILED, "scheduled_failed");
    assert.ok(INBOX_TYPES.has("scheduled_updated"));
    assert.ok(INBOX_TYPES.has("scheduled_failed"));
  });
});

describe("the pending list", () => {
  test("soonest first, whatever order they came in; the same moment in the order made", () => {
    const state = createScheduledState();
    upsertScheduled(state, s(3, "2026-12-06T12:00:00Z"));
    upsertScheduled(state, s(1, "2026-12-06T13:00:00+01:00")); // 12:00Z too: id 1 first
    upsertScheduled(state, s(2, "2026-12-06T11:59:59Z"));
    upsertScheduled(state, s(4, "2026-12-06T12:00:00Z", { chat_id: 99 }));
    assert.deepEqual(ids(state), [2, 1, 3]);
    assert.deepEqual(ids(state, 99), [4]);
    assert.ok(compareScheduled(s(9, "nonsense"), s(8, "2026-12-06T12:00:00Z")) > 0, "an unreadable time sorts last");
  });

  test("scheduled_updated adds, changes (a new time re-sorts it) and with null removes", () => {
    const state = createScheduledState();
    assert.deepEqual(applyScheduledUpdated(state, { inbox_seq: 1, id: 1, scheduled: s(1, "2026-12-06T12:00:00Z") }), { chatId: CHAT, removed: false });
    applyScheduledUpdated(state, { inbox_seq: 2, id: 2, scheduled: s(2, "2026-12-06T13:00:00Z") });
    assert.deepEqual(ids(state), [1, 2]);
    applyScheduledUpdated(state, { inbox_seq: 3, id: 1, scheduled: s(1, "2026-12-06T14:00:00Z", { content: "later" }) });
    assert.deepEqual(ids(state), [2, 1]);
    assert.equal(scheduledFor(state, CHAT)[1].content, "later");
    assert.deepEqual(applyScheduledUpdated(state, { inbox_seq: 4, id: 2, scheduled: null }), { chatId: CHAT, removed: true });
    assert.deepEqual(ids(state), [1]);
  });

  test("a duplicate or older event is dropped", () => {
    const state = createScheduledState();
    applyScheduledUpdated(state, { inbox_seq: 5, id: 1, scheduled: s(1, "2026-12-06T12:00:00Z", { content: "new" }) });
    assert.equal(applyScheduledUpdated(state, { inbox_seq: 5, id: 1, scheduled: s(1, "2026-12-06T12:00:00Z", { content: "new" }) }), null);
    assert.equal(applyScheduledUpdated(state, { inbox_seq: 4, id: 1, scheduled: s(1, "2026-12-06T12:00:00Z", { content: "old" }) }), null);
    assert.equal(scheduledFor(state, CHAT)[0].content, "new");
  });

  test("one that was sent never comes back: not from our POST's slower answer, nor an old page", () => {
    const state = createScheduledState();
    const since = beginLoad(state);
    // The event saying it was sent comes before the POST's 202 answer.
    applyScheduledUpdated(state, { inbox_seq: 1, id: 1, scheduled: null });
    assert.equal(upsertScheduled(state, s(1, "2026-12-06T12:00:00Z")), null);
    applyScheduledPage(state, CHAT, [s(1, "2026-12-06T12:00:00Z")], since, { complete: true });
    assert.deepEqual(ids(state), []);
    // null for an id never seen changes nothing to draw.
    assert.equal(applyScheduledUpdated(state, { inbox_seq: 2, id: 50, scheduled: null }), null);
  });

  test("a page asked for before a change does not undo it; a complete page drops what it did not name", () => {
    const state = createScheduledState();
    upsertScheduled(state, s(1, "2026-12-06T12:00:00Z"));
    upsertScheduled(state, s(2, "2026-12-06T12:30:00Z"));
    upsertScheduled(state, s(5, "2026-12-06T12:30:00Z", { chat_id: 99 }));
    const since = beginLoad(state);
    // While the page travels: 1 is edited here, 3 is made here.
    upsertScheduled(state, s(1, "2026-12-06T15:00:00Z", { content: "edited" }));
    upsertScheduled(state, s(3, "2026-12-06T16:00:00Z"));
    // The page (from before) still has 1's old version and not 2 (sent meanwhile elsewhere).
    applyScheduledPage(state, CHAT, [s(1, "2026-12-06T12:00:00Z"), s(4, "2026-12-06T11:00:00Z")], since, { complete: true });
    assert.deepEqual(ids(state), [4, 1, 3]);
    assert.equal(scheduledFor(state, CHAT)[1].content, "edited");
    assert.deepEqual(ids(state, 99), [5], "another chat's entries are left alone");
    assert.ok(state.loaded.has(CHAT));
  });

  test("pages of one walk share `seen`: only the last drops what none named", () => {
    const state = createScheduledState();
    upsertScheduled(state, s(1, "2026-12-06T12:00:00Z"));
    upsertScheduled(state, s(2, "2026-12-06T13:00:00Z"));
    const since = beginLoad(state);
    const seen = applyScheduledPage(state, CHAT, [s(1, "2026-12-06T12:00:00Z")], since);
    assert.deepEqual(ids(state), [1, 2], "not complete: nothing dropped");
    applyScheduledPage(state, CHAT, [s(2, "2026-12-06T13:00:00Z")], since, { complete: true, seen });
    assert.deepEqual(ids(state), [1, 2]);
  });

  test("scheduled_failed drops it and says why, with its text", () => {
    const state = createScheduledState();
    upsertScheduled(state, s(1, "2026-12-06T12:00:00Z", { content: "hello there" }));
    const notice = applyScheduledFailed(state, { inbox_seq: 3, scheduled_id: 1, chat_id: CHAT, reason: "not_a_member" });
    assert.deepEqual(notice, {
      chatId: CHAT,
      scheduledId: 1,
      content: "hello there",
      text: "A scheduled message was not sent: you are no longer a member of that chat.",
    });
    assert.deepEqual(ids(state), []);
    assert.equal(applyScheduledFailed(state, { inbox_seq: 3, scheduled_id: 1, chat_id: CHAT, reason: "not_a_member" }), null, "duplicate");
    assert.equal(upsertScheduled(state, s(1, "2026-12-06T12:00:00Z")), null);
    assert.match(failureText("something_new"), /something_new/);
    assert.match(failureText("refused"), /refused/);
  });

  test("removeScheduled and reset", () => {
    const state = createScheduledState();
    upsertScheduled(state, s(1, "2026-12-06T12:00:00Z"));
    assert.equal(removeScheduled(state, 1), true);
    assert.equal(removeScheduled(state, 1), false);
    resetScheduledState(state);
    assert.equal(state.gone.size, 0);
    assert.equal(state.seq, 0);
    assert.ok(upsertScheduled(state, s(1, "2026-12-06T12:00:00Z")), "a new session starts clean");
  });
});

describe("times: the datetime-local input and ISO with offset", () => {
  test("offsets", () => {
    assert.equal(offsetText(60), "+01:00");
    assert.equal(offsetText(-330), "-05:30");
    assert.equal(offsetText(0), "+00:00");
  });

  test("a local time becomes the same wall time with the zone's offset of that day (DST)", () => {
    assert.equal(localInputToIso("2026-12-06T14:30"), "2026-12-06T14:30:00+01:00");
    assert.equal(localInputToIso("2026-07-01T09:05:07"), "2026-07-01T09:05:07+02:00");
    // Both name the same instant as the server will read it.
    assert.equal(Date.parse(localInputToIso("2026-12-06T14:30")), Date.parse("2026-12-06T13:30:00Z"));
    // 02:30 on the spring-forward night does not exist in Berlin: the browser moves it on.
    assert.equal(localInputToIso("2026-03-29T02:30"), "2026-03-29T03:30:00+02:00");
  });

  test("another zone through offsetOf (minutes west of UTC, as getTimezoneOffset)", () => {
    const date = new Date(Date.UTC(2026, 11, 6, 12, 0, 0));
    assert.equal(isoWithOffset(date, () => -330), "2026-12-06T17:30:00+05:30");
    assert.equal(isoWithOffset(date, () => 180), "2026-12-06T09:00:00-03:00");
    assert.equal(isoWithOffset(date, () => 0), "2026-12-06T12:00:00+00:00");
  });

  test("what is not a datetime-local value", () => {
    for (const bad of ["", "  ", "2026-12-06", "2026-12-06 14:30", "2026-02-31T10:00", "tomorrow", null, undefined]) {
      assert.equal(parseLocalInput(bad), null, String(bad));
      assert.equal(localInputToIso(bad), null, String(bad));
    }
  });

  test("round trip: an ISO time shown in the input and read back is the same instant (to the second)", () => {
    const iso = "2026-12-24T17:45:09.250Z";
    const shown = toLocalInput(iso);
    assert.equal(shown, "2026-12-24T18:45:09");
    assert.equal(Date.parse(localInputToIso(shown)), Date.parse("2026-12-24T17:45:09Z"));
    assert.equal(toLocalInput("nonsense"), "");
    assert.equal(toLocalInput(Date.UTC(2026, 5, 1, 0, 0, 1)), "2026-06-01T02:00:01");
  });

  test("send_at from the bar: empty, unreadable and past are refused here; the future is sent", () => {
    const now = Date.parse("2026-12-06T13:00:00Z"); // 14:00 in Berlin
    assert.deepEqual(sendAtFromInput("", now), { error: "Pick when to send it." });
    assert.deepEqual(sendAtFromInput("soon", now), { error: "That is not a date and time." });
    assert.match(sendAtFromInput("2026-12-06T14:00", now).error, /passed/);
    assert.match(sendAtFromInput("2026-12-06T13:59:59", now).error, /passed/);
    assert.deepEqual(sendAtFromInput("2026-12-06T14:00:03", now), { send_at: "2026-12-06T14:00:03+01:00" });
    // Beyond the server's horizon is the server's to refuse (its message is shown).
    assert.deepEqual(sendAtFromInput("2028-12-06T14:00", now), { send_at: "2028-12-06T14:00:00+01:00" });
  });

  test("the edit form sends only what changed", () => {
    const now = Date.parse("2026-12-06T13:00:00Z");
    const held = s(1, "2026-12-06T15:00:00.400Z", { content: "hi" });
    assert.deepEqual(scheduledChanges(held, { content: "hi", when: "2026-12-06T16:00:00" }, now), { body: null });
    assert.deepEqual(scheduledChanges(held, { content: "hello", when: "2026-12-06T16:00:00" }, now), { body: { content: "hello" } });
    assert.deepEqual(scheduledChanges(held, { content: "hi", when: "2026-12-06T16:30" }, now), { body: { send_at: "2026-12-06T16:30:00+01:00" } });
    assert.match(scheduledChanges(held, { content: "hi", when: "2026-12-06T10:00" }, now).error, /passed/);
    assert.deepEqual(scheduledChanges(held, { content: "   " }, now), { error: "The message is empty." });
    assert.deepEqual(scheduledChanges({ ...held, attachment_ids: [3] }, { content: "" }, now), { body: { content: "" } });
  });
});

describe("the chat timer", () => {
  test("labels, long and short", () => {
    assert.equal(ttlLabel(null), "Off");
    assert.equal(ttlLabel(0), "Off");
    assert.equal(ttlLabel(5), "5 seconds");
    assert.equal(ttlLabel(30), "30 seconds");
    assert.equal(ttlLabel(60), "1 minute");
    assert.equal(ttlLabel(300), "5 minutes");
    assert.equal(ttlLabel(3600), "1 hour");
    assert.equal(ttlLabel(5400), "1 hour 30 minutes");
    assert.equal(ttlLabel(86400), "1 day");
    assert.equal(ttlLabel(604800), "1 week");
    assert.equal(ttlLabel(365 * 86400), "52 weeks 1 day");
    assert.equal(ttlLabel(300, { short: true }), "5 min");
    assert.equal(ttlLabel(90, { short: true }), "1 min 30 s");
  });

  test("the header's badge", () => {
    assert.equal(ttlBadge({ message_ttl: 3600 }), "⏱ 1 h");
    assert.equal(ttlBadge({ message_ttl: 5 }), "⏱ 5 s");
    assert.equal(ttlBadge({ message_ttl: null }), "");
    assert.equal(ttlBadge({}), "");
    assert.equal(ttlBadge(null), "");
  });

  test("the choices: off, 30 s, 5 min, 1 h, 1 day, 1 week; a chat's other timer is added in order", () => {
    assert.deepEqual(TTL_CHOICES.map((c) => c.value), [null, 30, 300, 3600, 86400, 604800]);
    assert.deepEqual(ttlOptions(300).map((o) => o.value), [null, 30, 300, 3600, 86400, 604800]);
    const other = ttlOptions(5);
    assert.deepEqual(other.map((o) => o.value), [null, 5, 30, 300, 3600, 86400, 604800]);
    assert.equal(other[1].label, "5 seconds");
  });

  test("the select's value as message_ttl", () => {
    assert.equal(ttlFromSelect(""), null);
    assert.equal(ttlFromSelect("off"), null);
    assert.equal(ttlFromSelect("30"), 30);
    assert.equal(ttlFromSelect("4"), null, "below the server's minimum");
    assert.equal(ttlFromSelect("1.5"), null);
  });
});
