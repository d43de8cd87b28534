// The client's state and its merge rules. Pure: no DOM, no timers, no storage, no network,
// so Node's test runner imports it as is (tests/web/store.test.mjs). app.js owns the one
// state object this makes and calls these rules; views.js only reads it.

/** Everything one signed-in session holds; teardown() empties it. */
export function createState() {
  return {
    me: null,
    conn: null,
    chats: new Map(), // id -> Chat
    chatsCursor: null,
    openChatId: null,
    convo: null, // the open chat's messages, see newConvo()
    presence: new Map(), // user id -> {online, last_seen_at}
    typing: new Map(), // chat id -> Map(user id -> expires at, ms)
    receipts: new Map(), // chat id -> Map(user id -> {delivered, read}) up_to_seq per member
    outbox: [], // messages not yet acknowledged, see newOutboxItem()
    typingSentAt: new Map(), // chat id -> ms
    readSent: new Map(), // chat id -> highest up_to_seq sent
    chatFetches: new Map(), // chat id -> promise, for chats we heard of but do not have
  };
}

/** Forgets the session (log out, session over). */
export function resetState(state) {
  state.me = null;
  state.conn = null;
  state.chats.clear();
  state.chatsCursor = null;
  state.openChatId = null;
  state.convo = null;
  state.presence.clear();
  state.typing.clear();
  state.receipts.clear();
  state.outbox = [];
  state.typingSentAt.clear();
  state.readSent.clear();
  state.chatFetches.clear();
}

export function newConvo(chatId) {
  return {
    chatId,
    messages: new Map(), // id -> Message
    loaded: false,
    hasMore: false,
    loadingOlder: false,
    fillingGap: false,
  };
}

/** Milliseconds since the epoch of an ISO time; 0 when absent or not a time. */
export function ts(iso) {
  const t = Date.parse(iso || "");
  return Number.isNaN(t) ? 0 : t;
}

// ---------------------------------------------------------------- inbox cursor

/**
 * What to do with an inbox event, given the highest inbox_seq this device applied:
 * "duplicate" (at-least-once delivery: drop it), "gap" (events are missing: sync first and
 * drop it) or "apply" (the next one).
 */
export function inboxStep(lastApplied, seq) {
  if (seq <= lastApplied) return "duplicate";
  if (seq > lastApplied + 1) return "gap";
  return "apply";
}

// ---------------------------------------------------------------- chats and members

export function isMember(chat, userId) {
  return !Array.isArray(chat.members) || !chat.members.length || chat.members.some((m) => m.user_id === userId);
}

export function chatTitle(chat, meId) {
  if (chat.type === "group") return chat.title || "Group";
  const other = (chat.members || []).find((m) => m.user_id !== meId);
  return other ? other.username : chat.title || "Direct chat";
}

export function otherMember(chat, meId) {
  if (!chat || chat.type !== "direct") return null;
  return (chat.members || []).find((m) => m.user_id !== meId) || null;
}

export function usernameOf(chat, userId, meId) {
  if (userId === meId) return "You";
  const m = (chat?.members || []).find((x) => x.user_id === userId);
  return m ? m.username : `User ${userId}`;
}

export function chatActivity(chat) {
  return ts(chat.last_message?.created_at) || ts(chat.created_at);
}

/** Most recent activity first; the higher id first among equals. */
export function sortChats(chats) {
  return [...chats].sort((a, b) => chatActivity(b) - chatActivity(a) || b.id - a.id);
}

/** Merges a Chat from REST or an event into what we hold; the newer last message wins. */
export function mergeChat(cur, incoming) {
  if (!cur) return { ...incoming };
  const chat = { ...cur, ...incoming };
  if ((cur.last_seq || 0) > (incoming.last_seq || 0)) {
    chat.last_seq = cur.last_seq;
    chat.last_message = cur.last_message;
    chat.unread_count = cur.unread_count;
  }
  if (incoming.unread_count === undefined) chat.unread_count = cur.unread_count;
  return chat;
}

// ---------------------------------------------------------------- messages

/** Keeps the most complete version: deletion sticks, the later edit wins, receipts only grow. */
export function mergeMessage(old, neu) {
  if (!old) return { ...neu };
  const m = { ...old, ...neu };
  if (old.is_deleted && !neu.is_deleted) {
    m.is_deleted = true;
    m.content = old.content;
    m.edited_at = old.edited_at;
  } else if (!neu.is_deleted && ts(old.edited_at) > ts(neu.edited_at)) {
    m.content = old.content;
    m.edited_at = old.edited_at;
  }
  m.delivered_at = neu.delivered_at || old.delivered_at || null;
  m.read_at = neu.read_at || old.read_at || null;
  return m;
}

/** Adds or merges a message, keyed by id: the same message twice stays one. */
export function storeMessage(convo, msg) {
  const merged = mergeMessage(convo.messages.get(msg.id), msg);
  convo.messages.set(msg.id, merged);
  return merged;
}

/** The conversation's messages in seq order. */
export function orderedMessages(convo) {
  return [...convo.messages.values()].sort((a, b) => a.seq - b.seq);
}

export function seqBounds(convo) {
  let min = Infinity;
  let max = 0;
  for (const m of convo.messages.values()) {
    if (m.seq < min) min = m.seq;
    if (m.seq > max) max = m.seq;
  }
  return { min: min === Infinity ? null : min, max };
}

/** The seq after which the first hole in `seqs` starts, or null when there is none. */
export function firstGapAfter(seqs) {
  const sorted = [...seqs].sort((a, b) => a - b);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i] > sorted[i - 1] + 1) return sorted[i - 1];
  }
  return null;
}

/** Live events that raced the first page and fall before it would leave a hole: drop them. */
export function dropBefore(convo, seq) {
  for (const [id, m] of convo.messages) if (m.seq < seq) convo.messages.delete(id);
}

/**
 * Whether a message not yet held goes into a loaded conversation: "skip" (older than what is
 * shown while there is more to page back: paging brings it, in order), "gap" (newer than
 * max + 1: store it and fetch what lies between) or "store".
 */
export function placeNewMessage(convo, seq) {
  const { min, max } = seqBounds(convo);
  if (min != null && seq < min && convo.hasMore) return "skip";
  if (max && seq > max + 1) return "gap";
  return "store";
}

/** What a read mark would cover: the highest seq shown, and the highest from someone else. */
export function readCandidate(convo, meId) {
  let upTo = 0;
  let maxOther = 0;
  for (const m of convo.messages.values()) {
    if (m.seq > upTo) upTo = m.seq;
    if (m.sender_id !== meId && m.seq > maxOther) maxOther = m.seq;
  }
  return { upTo, maxOther };
}

// ---------------------------------------------------------------- receipts

/** Receipts only move forward; a read implies delivered. Another member's receipt only. */
export function applyReceiptTo(receipts, data) {
  const upTo = Number(data.up_to_seq) || 0;
  let perChat = receipts.get(data.chat_id);
  if (!perChat) {
    perChat = new Map();
    receipts.set(data.chat_id, perChat);
  }
  const r = perChat.get(data.user_id) || { delivered: 0, read: 0 };
  r.delivered = Math.max(r.delivered, upTo);
  if (data.status === "read") r.read = Math.max(r.read, upTo);
  perChat.set(data.user_id, r);
  return r;
}

/** "read" | "delivered" | "sent" for one of our messages. */
export function statusOf(msg, chat, receipts, meId) {
  if (msg.read_at) return "read";
  const others = (chat?.members || []).map((m) => m.user_id).filter((id) => id !== meId);
  const r = receipts.get(msg.chat_id);
  if (others.length && r) {
    if (others.every((u) => (r.get(u)?.read || 0) >= msg.seq)) return "read";
    if (!msg.delivered_at && others.every((u) => (r.get(u)?.delivered || 0) >= msg.seq)) return "delivered";
  }
  return msg.delivered_at ? "delivered" : "sent";
}

// ---------------------------------------------------------------- outbox

export function newOutboxItem(chatId, content, clientMsgId, now = new Date()) {
  return {
    client_msg_id: clientMsgId,
    chat_id: chatId,
    content,
    created_at: now.toISOString(),
    status: "sending",
    error: null,
    inflight: false,
  };
}

/** Removes an item by client_msg_id; true when there was one. */
export function outboxRemove(outbox, clientMsgId) {
  const i = outbox.findIndex((x) => x.client_msg_id === clientMsgId);
  if (i < 0) return false;
  outbox.splice(i, 1);
  return true;
}

/** The outbox as stored (without in-memory fields); null when empty. */
export function serializeOutbox(outbox) {
  if (!outbox.length) return null;
  const keep = outbox.map(({ client_msg_id, chat_id, content, created_at, status, error }) => ({
    client_msg_id, chat_id, content, created_at, status, error,
  }));
  return JSON.stringify(keep);
}

/** A stored outbox back: failed items stay failed, the rest are sent again. */
export function parseOutbox(text) {
  try {
    const items = JSON.parse(text || "[]");
    return Array.isArray(items)
      ? items.map((i) => ({ ...i, status: i.status === "failed" ? "failed" : "sending", inflight: false }))
      : [];
  } catch {
    return [];
  }
}
