// The browser client's pure rules (app/static/store.js, codes.js), run with `node --test`.
// The modules are imported straight from app/static/: no build step, no DOM.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  applyReceiptTo,
  chatTitle,
  createState,
  dropBefore,
  firstGapAfter,
  inboxStep,
  isMember,
  mergeChat,
  mergeMessage,
  newConvo,
  newOutboxItem,
  orderedMessages,
  outboxRemove,
  parseOutbox,
  placeNewMessage,
  readCandidate,
  resetState,
  seqBounds,
  serializeOutbox,
  sortChats,
  statusOf,
  storeMessage,
  usernameOf,
} from "../../app/static/store.js";
import { CloseAction, CloseCode, INBOX_TYPES, RETRYABLE, closeInfo } from "../../app/static/codes.js";

const ME = 1;
const msg = (id, seq, extra = {}) => ({
  id,
  seq,
  chat_id: 7,
  sender_id: 2,
  content: `m${id}`,
  created_at: "2026-01-01T00:00:00Z",
  edited_at: null,
  is_deleted: false,
  ...extra,
});

describe("inbox cursor", () => {
  test("the next inbox_seq is applied", () => {
    assert.equal(inboxStep(0, 1), "apply");
    assert.equal(inboxStep(41, 42), "apply");
  });
  test("an inbox_seq at or below the cursor is a duplicate", () => {
    assert.equal(inboxStep(5, 5), "duplicate");
    assert.equal(inboxStep(5, 1), "duplicate");
  });
  test("an inbox_seq past the next one is a gap", () => {
    assert.equal(inboxStep(5, 7), "gap");
    assert.equal(inboxStep(0, 2), "gap");
  });
  test("replaying a stream with repeats and a hole applies each event once, in order", () => {
    let cursor = 0;
    const applied = [];
    for (const seq of [1, 2, 2, 1, 3, 5, 4, 5, 3, 6]) {
      if (inboxStep(cursor, seq) === "apply") {
        applied.push(seq);
        cursor = seq;
      }
    }
    assert.deepEqual(applied, [1, 2, 3, 4, 5, 6]);
  });
});

describe("messages", () => {
  test("the same message twice is stored once (de-duplicated by id)", () => {
    const convo = newConvo(7);
    storeMessage(convo, msg(10, 1));
    storeMessage(convo, msg(10, 1));
    storeMessage(convo, msg(11, 2));
    assert.equal(convo.messages.size, 2);
  });
  test("messages are ordered by seq, whatever order they arrived in", () => {
    const convo = newConvo(7);
    for (const [id, seq] of [[13, 4], [10, 1], [12, 3], [11, 2]]) storeMessage(convo, msg(id, seq));
    assert.deepEqual(orderedMessages(convo).map((m) => m.seq), [1, 2, 3, 4]);
    assert.deepEqual(seqBounds(convo), { min: 1, max: 4 });
    assert.deepEqual(seqBounds(newConvo(7)), { min: null, max: 0 });
  });
  test("a deletion sticks against an older copy that arrives later", () => {
    const deleted = msg(10, 1, { is_deleted: true, content: "" });
    const m = mergeMessage(deleted, msg(10, 1));
    assert.equal(m.is_deleted, true);
    assert.equal(m.content, "");
  });
  test("the later edit wins", () => {
    const newer = msg(10, 1, { content: "v2", edited_at: "2026-01-01T00:02:00Z" });
    const older = msg(10, 1, { content: "v1", edited_at: "2026-01-01T00:01:00Z" });
    assert.equal(mergeMessage(newer, older).content, "v2");
    assert.equal(mergeMessage(older, newer).content, "v2");
    assert.equal(mergeMessage(msg(10, 1), older).content, "v1");
  });
  test("receipt times only grow", () => {
    const seen = msg(10, 1, { delivered_at: "t1", read_at: "t2" });
    const m = mergeMessage(seen, msg(10, 1, { delivered_at: null, read_at: null }));
    assert.equal(m.delivered_at, "t1");
    assert.equal(m.read_at, "t2");
  });
  test("merging copies: the stored message is not the one passed in", () => {
    const convo = newConvo(7);
    const incoming = msg(10, 1);
    const stored = storeMessage(convo, incoming);
    assert.notEqual(stored, incoming);
    assert.deepEqual(stored, incoming);
  });
  test("the first hole in a run of seqs", () => {
    assert.equal(firstGapAfter([]), null);
    assert.equal(firstGapAfter([1, 2, 3]), null);
    assert.equal(firstGapAfter([5, 1, 2, 4]), 2);
    assert.equal(firstGapAfter([10, 12, 15]), 10);
  });
  test("live events older than the first page are dropped", () => {
    const convo = newConvo(7);
    for (const [id, seq] of [[1, 1], [5, 5], [6, 6]]) storeMessage(convo, msg(id, seq));
    dropBefore(convo, 5);
    assert.deepEqual(orderedMessages(convo).map((m) => m.seq), [5, 6]);
  });
  test("where a message not yet held goes", () => {
    const convo = newConvo(7);
    for (const seq of [10, 11, 12]) storeMessage(convo, msg(seq, seq));
    convo.hasMore = true;
    assert.equal(placeNewMessage(convo, 3), "skip");
    assert.equal(placeNewMessage(convo, 13), "store");
    assert.equal(placeNewMessage(convo, 15), "gap");
    convo.hasMore = false;
    assert.equal(placeNewMessage(convo, 3), "store");
    assert.equal(placeNewMessage(newConvo(7), 9), "store");
  });
  test("a read mark covers the newest seq; maxOther ignores our own", () => {
    const convo = newConvo(7);
    storeMessage(convo, msg(1, 1));
    storeMessage(convo, msg(2, 2, { sender_id: ME }));
    assert.deepEqual(readCandidate(convo, ME), { upTo: 2, maxOther: 1 });
  });
});

describe("chats", () => {
  const direct = {
    id: 7,
    type: "direct",
    members: [{ user_id: ME, username: "me" }, { user_id: 2, username: "bob" }],
  };
  test("the newer last message wins a merge", () => {
    const cur = { id: 7, last_seq: 9, last_message: msg(9, 9), unread_count: 3 };
    const stale = { id: 7, last_seq: 8, last_message: msg(8, 8), unread_count: 1, title: "t" };
    const m = mergeChat(cur, stale);
    assert.equal(m.last_seq, 9);
    assert.equal(m.last_message.id, 9);
    assert.equal(m.unread_count, 3);
    assert.equal(m.title, "t");
    const fresh = mergeChat(cur, { id: 7, last_seq: 10, last_message: msg(10, 10), unread_count: 4 });
    assert.equal(fresh.last_seq, 10);
    assert.equal(fresh.unread_count, 4);
  });
  test("an event without unread_count keeps ours", () => {
    const m = mergeChat({ id: 7, unread_count: 2 }, { id: 7, title: "x" });
    assert.equal(m.unread_count, 2);
  });
  test("membership, titles and names", () => {
    assert.equal(isMember(direct, ME), true);
    assert.equal(isMember(direct, 3), false);
    assert.equal(isMember({ id: 8 }, 3), true); // no member list: not known to be gone
    assert.equal(chatTitle(direct, ME), "bob");
    assert.equal(chatTitle({ type: "group", title: "" }, ME), "Group");
    assert.equal(usernameOf(direct, ME, ME), "You");
    assert.equal(usernameOf(direct, 2, ME), "bob");
    assert.equal(usernameOf(direct, 9, ME), "User 9");
  });
  test("the chat list: most recent activity first, then the higher id", () => {
    const chats = [
      { id: 1, created_at: "2026-01-01T00:00:00Z" },
      { id: 2, created_at: "2026-01-01T00:00:00Z" },
      { id: 3, created_at: "2025-01-01T00:00:00Z", last_message: { created_at: "2026-02-01T00:00:00Z" } },
    ];
    assert.deepEqual(sortChats(chats).map((c) => c.id), [3, 2, 1]);
  });
});

describe("receipts", () => {
  const group = {
    id: 7,
    type: "group",
    members: [{ user_id: ME }, { user_id: 2 }, { user_id: 3 }],
  };
  test("receipts only move forward, and read implies delivered", () => {
    const receipts = new Map();
    applyReceiptTo(receipts, { chat_id: 7, user_id: 2, status: "read", up_to_seq: 5 });
    applyReceiptTo(receipts, { chat_id: 7, user_id: 2, status: "delivered", up_to_seq: 3 });
    assert.deepEqual(receipts.get(7).get(2), { delivered: 5, read: 5 });
  });
  test("a message is read when every other member read it", () => {
    const receipts = new Map();
    const mine = msg(4, 4, { sender_id: ME });
    assert.equal(statusOf(mine, group, receipts, ME), "sent");
    applyReceiptTo(receipts, { chat_id: 7, user_id: 2, status: "read", up_to_seq: 4 });
    assert.equal(statusOf(mine, group, receipts, ME), "sent");
    applyReceiptTo(receipts, { chat_id: 7, user_id: 3, status: "delivered", up_to_seq: 4 });
    assert.equal(statusOf(mine, group, receipts, ME), "delivered");
    applyReceiptTo(receipts, { chat_id: 7, user_id: 3, status: "read", up_to_seq: 9 });
    assert.equal(statusOf(mine, group, receipts, ME), "read");
    assert.equal(statusOf({ ...mine, read_at: "t" }, group, new Map(), ME), "read");
  });
});

describe("outbox", () => {
  test("add, remove by client_msg_id, remove again", () => {
    const outbox = [];
    outbox.push(newOutboxItem(7, "hi", "a"), newOutboxItem(7, "there", "b"));
    assert.equal(outboxRemove(outbox, "a"), true);
    assert.equal(outboxRemove(outbox, "a"), false);
    assert.deepEqual(outbox.map((i) => i.client_msg_id), ["b"]);
  });
  test("stored without in-memory fields; read back, failed stays failed, the rest resend", () => {
    const now = new Date("2026-01-01T00:00:00Z");
    const a = { ...newOutboxItem(7, "hi", "a", now), status: "queued", inflight: true };
    const b = { ...newOutboxItem(7, "no", "b", now), status: "failed", error: "too long" };
    const text = serializeOutbox([a, b]);
    assert.equal(text.includes("inflight"), false);
    const back = parseOutbox(text);
    assert.deepEqual(
      back.map((i) => [i.client_msg_id, i.status, i.inflight, i.error, i.created_at]),
      [
        ["a", "sending", false, null, "2026-01-01T00:00:00.000Z"],
        ["b", "failed", false, "too long", "2026-01-01T00:00:00.000Z"],
      ],
    );
  });
  test("an empty outbox is not stored; junk reads back as empty", () => {
    assert.equal(serializeOutbox([]), null);
    assert.deepEqual(parseOutbox(null), []);
    assert.deepEqual(parseOutbox("{not json"), []);
    assert.deepEqual(parseOutbox('{"a": 1}'), []);
  });
});

describe("state", () => {
  test("a reset forgets the session", () => {
    const state = createState();
    state.me = { id: ME };
    state.chats.set(7, { id: 7 });
    state.outbox.push(newOutboxItem(7, "hi", "a"));
    state.convo = newConvo(7);
    resetState(state);
    assert.deepEqual(
      [state.me, state.chats.size, state.outbox.length, state.convo],
      [null, 0, 0, null],
    );
  });
});

describe("close codes", () => {
  test("every close code the gateway sends is named", () => {
    for (const code of [1001, 1009, 4008, 4401, 4408, 4429]) {
      assert.notEqual(closeInfo(code).name, "unknown", String(code));
    }
  });
  test("4401 checks the session before reconnecting; others reconnect", () => {
    assert.equal(closeInfo(4401).action, CloseAction.CHECK_SESSION);
    assert.equal(CloseCode.SESSION_ENDED.code, 4401);
    for (const c of Object.values(CloseCode)) {
      if (c.code !== 4401) assert.equal(c.action, CloseAction.RECONNECT, c.name);
      assert.equal(c.reconnect, true, c.name);
    }
    assert.deepEqual(closeInfo(4999), { code: 4999, name: "unknown", reconnect: true, action: "reconnect" });
  });
  test("inbox types and retryable errors", () => {
    assert.equal(INBOX_TYPES.has("message"), true);
    assert.equal(INBOX_TYPES.has("typing"), false);
    assert.equal(RETRYABLE.has("disconnected"), true);
    assert.equal(RETRYABLE.has("forbidden"), false);
  });
});
