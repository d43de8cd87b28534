// The store's rules for replies, reactions, mentions, pins and chat settings
// (app/static/store.js), run with `node --test`.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  MUTED_FOREVER,
  applyPins,
  applyReactions,
  applyReadAck,
  canManage,
  canPin,
  countIncoming,
  isMuted,
  isMutedForever,
  mentionSegments,
  mentionsUser,
  mergeChat,
  muteUntil,
  newConvo,
  newOutboxItem,
  parseOutbox,
  replyPreviewOf,
  serializeOutbox,
  splitArchived,
  storeMessage,
  toggleReaction,
} from "../../app/static/store.js";
import { INBOX_TYPES } from "../../app/static/codes.js";

const ME = 1;
const group = {
  id: 7,
  type: "group",
  title: "Team",
  members: [
    { user_id: 1, username: "alice", role: "owner" },
    { user_id: 2, username: "bob", role: "admin" },
    { user_id: 3, username: "carol.k", role: "member" },
  ],
};

describe("reactions", () => {
  test("a new emoji is added as mine with a count of one, after the others", () => {
    const { add, reactions } = toggleReaction([{ emoji: "👍", count: 2, me: false }], "🎉");
    assert.equal(add, true);
    assert.deepEqual(reactions, [
      { emoji: "👍", count: 2, me: false },
      { emoji: "🎉", count: 1, me: true },
    ]);
  });
  test("joining someone's emoji counts one more and marks it mine", () => {
    const { add, reactions } = toggleReaction([{ emoji: "👍", count: 2, me: false }], "👍");
    assert.equal(add, true);
    assert.deepEqual(reactions, [{ emoji: "👍", count: 3, me: true }]);
  });
  test("toggling my own takes it back; a count that reaches zero disappears", () => {
    const shared = toggleReaction([{ emoji: "👍", count: 2, me: true }], "👍");
    assert.equal(shared.add, false);
    assert.deepEqual(shared.reactions, [{ emoji: "👍", count: 1, me: false }]);
    const alone = toggleReaction([{ emoji: "❤️", count: 1, me: true }, { emoji: "👍", count: 1, me: false }], "❤️");
    assert.deepEqual(alone.reactions, [{ emoji: "👍", count: 1, me: false }]);
  });
  test("no reactions yet (absent or null) is an empty list", () => {
    assert.deepEqual(toggleReaction(undefined, "👍").reactions, [{ emoji: "👍", count: 1, me: true }]);
    assert.deepEqual(toggleReaction(null, "👍").add, true);
  });
  test("the toggle does not change the list it was given", () => {
    const before = [{ emoji: "👍", count: 1, me: true }];
    toggleReaction(before, "👍");
    assert.deepEqual(before, [{ emoji: "👍", count: 1, me: true }]);
  });
  test("a reactions event replaces the aggregate and keeps the rest of the message", () => {
    const msg = { id: 5, content: "hi", reactions: [{ emoji: "👍", count: 1, me: true }] };
    const next = applyReactions(msg, [{ emoji: "👍", count: 2, me: true }, { emoji: "😂", count: 1, me: false }]);
    assert.equal(next.content, "hi");
    assert.deepEqual(next.reactions.map((r) => [r.emoji, r.count, r.me]), [["👍", 2, true], ["😂", 1, false]]);
    assert.equal(msg.reactions[0].count, 1, "the held message is not mutated");
    assert.deepEqual(applyReactions(msg, null).reactions, []);
    assert.equal(applyReactions(undefined, []), null);
  });
  test("a later message version (edit, ack) carries its reactions through the merge", () => {
    const convo = newConvo(7);
    storeMessage(convo, { id: 5, seq: 1, content: "a", reactions: [] });
    const merged = storeMessage(convo, { id: 5, seq: 1, content: "a", reactions: [{ emoji: "👍", count: 1, me: false }] });
    assert.equal(merged.reactions.length, 1);
  });
  test("reactions is an inbox event: it moves the device's cursor", () => {
    assert.equal(INBOX_TYPES.has("reactions"), true);
  });
});

describe("mentions", () => {
  const msg = (content, mentions) => ({ id: 1, content, mentions });
  test("a message naming me is a mention of me; others' and absent lists are not", () => {
    assert.equal(mentionsUser(msg("@alice", [1]), ME), true);
    assert.equal(mentionsUser(msg("@bob", [2]), ME), false);
    assert.equal(mentionsUser(msg("@alice", undefined), ME), false);
  });
  test("the text is cut at each mention the server resolved; mine is marked", () => {
    const segs = mentionSegments(msg("hi @alice and @Bob!", [1, 2]), group, ME);
    assert.deepEqual(segs, [
      { text: "hi " },
      { text: "@alice", userId: 1, me: true },
      { text: " and " },
      { text: "@Bob", userId: 2, me: false },
      { text: "!" },
    ]);
  });
  test("a name the server did not resolve, an email and a non-member stay plain text", () => {
    assert.deepEqual(mentionSegments(msg("mail bob@example.com or @zed", [2]), group, ME), [
      { text: "mail bob@example.com or @zed" },
    ]);
    assert.deepEqual(mentionSegments(msg("@bob", []), group, ME), [{ text: "@bob" }]);
  });
  test("a dot or dash ending the sentence is not part of the name; a dot inside one is", () => {
    assert.deepEqual(mentionSegments(msg("thanks @carol.k. See @bob-", [3, 2]), group, ME), [
      { text: "thanks " },
      { text: "@carol.k", userId: 3, me: false },
      { text: ". See " },
      { text: "@bob", userId: 2, me: false },
      { text: "-" },
    ]);
  });
  test("the pieces put together are the original text", () => {
    const text = "@alice, @bob: ping @alice again @nobody";
    const segs = mentionSegments(msg(text, [1, 2]), group, ME);
    assert.equal(segs.map((s) => s.text).join(""), text);
    assert.equal(segs.filter((s) => s.me).length, 2);
  });
  test("an incoming message counts one unread, and one mention only when it names me", () => {
    const chat = { unread_count: 0, unread_mentions: 0 };
    countIncoming(chat, msg("hello", []), ME);
    countIncoming(chat, msg("@alice look", [1]), ME);
    countIncoming(chat, msg("@bob look", [2]), ME);
    assert.deepEqual(chat, { unread_count: 3, unread_mentions: 1 });
  });
  test("a read_ack covering the newest message sets both counts; an older one changes nothing", () => {
    const chat = { last_seq: 9, unread_count: 4, unread_mentions: 2 };
    assert.equal(applyReadAck(chat, { read_seq: 7, unread_count: 2, unread_mentions: 1 }), false);
    assert.deepEqual([chat.unread_count, chat.unread_mentions], [4, 2]);
    assert.equal(applyReadAck(chat, { read_seq: 9, unread_count: 0, unread_mentions: 0 }), true);
    assert.deepEqual([chat.unread_count, chat.unread_mentions], [0, 0]);
  });
  test("a chat event without unread_mentions keeps the count; an older chat keeps ours", () => {
    const cur = { id: 7, last_seq: 5, unread_count: 2, unread_mentions: 1 };
    assert.equal(mergeChat(cur, { id: 7, title: "x" }).unread_mentions, 1);
    assert.equal(mergeChat(cur, { id: 7, last_seq: 4, unread_count: 0, unread_mentions: 0 }).unread_mentions, 1);
    assert.equal(mergeChat(cur, { id: 7, last_seq: 5, unread_count: 0, unread_mentions: 0 }).unread_mentions, 0);
  });
});

describe("replies", () => {
  test("the quoted preview is the message's first 100 characters", () => {
    const p = replyPreviewOf({ id: 3, seq: 2, sender_id: 2, content: "x".repeat(150), chat_id: 7 });
    assert.deepEqual(Object.keys(p).sort(), ["id", "preview", "sender_id", "seq"]);
    assert.equal(p.preview.length, 100);
  });
  test("an unsent reply keeps its quote through the stored outbox", () => {
    const reply = { id: 3, seq: 2, sender_id: 2, preview: "the original" };
    const item = newOutboxItem(7, "answer", "c1", new Date("2026-01-01T00:00:00Z"), reply);
    const back = parseOutbox(serializeOutbox([item, newOutboxItem(7, "plain", "c2")]));
    assert.deepEqual(back[0].reply_to, reply);
    assert.equal(back[1].reply_to, null);
  });
});

describe("pins and roles", () => {
  test("any member of a direct chat pins; in a group the owner and admins only", () => {
    assert.equal(canPin({ type: "direct", members: [] }, ME), true);
    assert.equal(canPin(group, 1), true);
    assert.equal(canPin(group, 2), true);
    assert.equal(canPin(group, 3), false);
    assert.equal(canPin(null, 1), false);
    assert.equal(canManage({ type: "direct", members: [{ user_id: 1, role: "owner" }] }, 1), false);
  });
  test("the pin list sets each held message's pinned flag, and says when any changed", () => {
    const convo = newConvo(7);
    storeMessage(convo, { id: 1, seq: 1, pinned: true });
    storeMessage(convo, { id: 2, seq: 2, pinned: false });
    assert.equal(applyPins(convo, [{ id: 2 }]), true);
    assert.deepEqual([convo.messages.get(1).pinned, convo.messages.get(2).pinned], [false, true]);
    assert.equal(applyPins(convo, [{ id: 2 }]), false);
  });
});

describe("mute and archive", () => {
  const now = new Date("2026-03-01T12:00:00Z");
  test("mute for some hours, forever, or not at all", () => {
    assert.equal(muteUntil(8, now), "2026-03-01T20:00:00.000Z");
    assert.equal(muteUntil("forever", now), MUTED_FOREVER);
    assert.equal(muteUntil(null, now), null);
  });
  test("a chat is muted while muted_until is ahead", () => {
    const t = now.getTime();
    assert.equal(isMuted({ muted_until: "2026-03-01T20:00:00Z" }, t), true);
    assert.equal(isMuted({ muted_until: "2026-03-01T11:00:00Z" }, t), false);
    assert.equal(isMuted({ muted_until: null }, t), false);
    assert.equal(isMutedForever({ muted_until: MUTED_FOREVER }), true);
    assert.equal(isMutedForever({ muted_until: "2026-03-01T20:00:00Z" }), false);
  });
  test("archived chats are listed apart, each part latest activity first", () => {
    const chat = (id, at, archived) => ({ id, created_at: at, archived, last_message: null });
    const { active, archived } = splitArchived([
      chat(1, "2026-01-01T00:00:00Z", false),
      chat(2, "2026-01-03T00:00:00Z", true),
      chat(3, "2026-01-02T00:00:00Z", false),
      chat(4, "2026-01-04T00:00:00Z", true),
    ]);
    assert.deepEqual(active.map((c) => c.id), [3, 1]);
    assert.deepEqual(archived.map((c) => c.id), [4, 2]);
  });
});
