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
    pins: new Map(), // chat id -> [Message], most recently pinned first (the open chat's)
    replyTo: null, // the composer's quoted message: {chat_id, id, seq, sender_id, preview}
    uploads: [], // files attached in the composer, see newUpload(); each remembers its chat
    sendWaiting: null, // the chat id whose send waits for its uploads to finish
    profiles: new Map(), // user id -> UserPublic (display name, avatar, deleted), see account.js
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
  state.pins.clear();
  state.replyTo = null;
  state.uploads = [];
  state.sendWaiting = null;
  state.profiles.clear();
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

/** A direct chat is named after the other person (their display name when known). */
export function chatTitle(chat, meId, profiles = null) {
  if (chat.type === "group") return chat.title || "Group";
  const other = (chat.members || []).find((m) => m.user_id !== meId);
  return other ? personName(profiles?.get(other.user_id), other.username) : chat.title || "Direct chat";
}

export function otherMember(chat, meId) {
  if (!chat || chat.type !== "direct") return null;
  return (chat.members || []).find((m) => m.user_id !== meId) || null;
}

/** How a person is shown in a chat: "You", their display name, else their username. */
export function usernameOf(chat, userId, meId, profiles = null) {
  if (userId === meId) return "You";
  const m = (chat?.members || []).find((x) => x.user_id === userId);
  return personName(profiles?.get(userId), m ? m.username : `User ${userId}`);
}

// ---------------------------------------------------------------- people: profiles, sessions, export

export const DELETED_ACCOUNT = "Deleted account";

/**
 * The name to show for a person: "Deleted account" for an erased one, else the display name,
 * else the username, else `fallback` (a member's username while the profile is not known).
 */
export function personName(profile, fallback = "") {
  if (profile?.deleted) return DELETED_ACCOUNT;
  return (profile?.display_name || "").trim() || profile?.username || fallback;
}

/**
 * A `UserPublic` (GET /users/{id}, a `user_updated` event) into what we know of people;
 * true when something shown (name, avatar, deletion, presence) changed.
 */
export function applyProfile(profiles, user) {
  if (!user || user.id == null) return false;
  const cur = profiles.get(user.id);
  const next = { ...(cur || {}), ...user };
  profiles.set(user.id, next);
  if (!cur) return true;
  return ["username", "display_name", "avatar_url", "deleted", "online", "last_seen_at"].some((k) => cur[k] !== next[k]);
}

/** Ids of the people in `chats` (not me) whose profile we do not hold nor are fetching. */
export function unknownPeople(chats, profiles, meId, pending = new Set()) {
  const ids = new Set();
  for (const chat of chats) {
    for (const m of chat?.members || []) {
      if (m.user_id !== meId && !profiles.has(m.user_id) && !pending.has(m.user_id)) ids.add(m.user_id);
    }
  }
  return [...ids];
}

/** Sessions for the settings page: this one first, then the most recently seen. */
export function sortSessions(sessions) {
  return [...(sessions || [])].sort(
    (a, b) => (b.current ? 1 : 0) - (a.current ? 1 : 0) || ts(b.last_seen_at) - ts(a.last_seen_at) || b.id - a.id,
  );
}

/** "online", "last seen <time>" (given a formatter), "offline", or "" when not known. */
export function presenceText(profile, fmt = (iso) => iso) {
  if (!profile || profile.deleted || profile.online == null) return "";
  if (profile.online) return "online";
  return profile.last_seen_at ? `last seen ${fmt(profile.last_seen_at)}` : "offline";
}

/**
 * What GET /users/me/export/{id} answered, for the progress line: {done, text}. A 200 is the
 * archive itself (no `status`); a 202 carries `{id, status}`.
 */
export function exportProgress(answer, httpStatus) {
  if (httpStatus === 200) return { done: true, failed: false, text: "Your archive is ready." };
  const status = answer?.status || "pending";
  if (status === "failed") return { done: true, failed: true, text: "The export failed. Try again." };
  return { done: false, failed: false, text: status === "running" ? "Building your archive…" : "Waiting for the export to start…" };
}

/** The file name the downloaded archive gets. */
export function exportFileName(username, now = new Date()) {
  return `messenger-export-${username || "account"}-${now.toISOString().slice(0, 10)}.json`;
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
    chat.unread_mentions = cur.unread_mentions;
  }
  if (incoming.unread_count === undefined) chat.unread_count = cur.unread_count;
  if (incoming.unread_mentions === undefined) chat.unread_mentions = cur.unread_mentions;
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

export function newOutboxItem(chatId, content, clientMsgId, now = new Date(), replyTo = null, attachments = []) {
  return {
    client_msg_id: clientMsgId,
    chat_id: chatId,
    content,
    reply_to: replyTo, // the quoted preview ({id, seq, sender_id, preview}) or null
    attachments: attachments.map((a) => ({ ...a })), // uploaded Attachments the message carries
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
  const keep = outbox.map(({ client_msg_id, chat_id, content, reply_to, attachments, created_at, status, error }) => ({
    client_msg_id, chat_id, content, reply_to: reply_to || null, attachments: attachments || [], created_at, status, error,
  }));
  return JSON.stringify(keep);
}

/** A stored outbox back: failed items stay failed, the rest are sent again. */
export function parseOutbox(text) {
  try {
    const items = JSON.parse(text || "[]");
    return Array.isArray(items)
      ? items.map((i) => ({
          ...i,
          attachments: Array.isArray(i.attachments) ? i.attachments : [],
          status: i.status === "failed" ? "failed" : "sending",
          inflight: false,
        }))
      : [];
  } catch {
    return [];
  }
}

// ---------------------------------------------------------------- replies, reactions, mentions

/** The emoji the reaction picker offers. */
export const QUICK_REACTIONS = Object.freeze(["👍", "❤️", "😂", "😮", "😢", "🎉"]);

/**
 * Toggling my reaction `emoji` on a message: whether that adds or removes it, and the
 * reactions to show until the server answers (counts never below zero; an emptied one goes).
 */
export function toggleReaction(reactions, emoji) {
  const list = Array.isArray(reactions) ? reactions : [];
  const cur = list.find((r) => r.emoji === emoji);
  const add = !cur || !cur.me;
  let next;
  if (add) {
    next = cur
      ? list.map((r) => (r.emoji === emoji ? { ...r, count: r.count + 1, me: true } : r))
      : [...list, { emoji, count: 1, me: true }];
  } else {
    next = list
      .map((r) => (r.emoji === emoji ? { ...r, count: Math.max(0, r.count - 1), me: false } : r))
      .filter((r) => r.count > 0);
  }
  return { add, reactions: next };
}

/** A `reactions` event applied to a message we hold: the aggregate replaces what we had. */
export function applyReactions(msg, reactions) {
  if (!msg) return null;
  return { ...msg, reactions: Array.isArray(reactions) ? reactions.map((r) => ({ ...r })) : [] };
}

/** Whether a message names the user among its mentions. */
export function mentionsUser(msg, userId) {
  return !!msg && Array.isArray(msg.mentions) && msg.mentions.includes(userId);
}

// The server's rule (app/services/mentions.py): a username after an @ that does not continue
// a word or an email address; trailing dots and dashes may end the sentence instead.
const MENTION_RE = /(?<![A-Za-z0-9_.@-])@([A-Za-z0-9_.-]{3,32})/g;

/**
 * The message text cut into pieces for display: plain text, and `@name` of a member the
 * message mentions ({text, userId, me}). Only names the server resolved (msg.mentions) count.
 */
export function mentionSegments(msg, chat, meId) {
  const text = msg?.content || "";
  const ids = new Set(Array.isArray(msg?.mentions) ? msg.mentions : []);
  if (!ids.size || !text.includes("@")) return [{ text }];
  const byName = new Map();
  for (const m of chat?.members || []) {
    if (ids.has(m.user_id) && m.username) byName.set(m.username.toLowerCase(), m.user_id);
  }
  const out = [];
  let at = 0;
  for (const match of text.matchAll(MENTION_RE)) {
    let name = match[1];
    let userId = byName.get(name.toLowerCase());
    if (userId === undefined) {
      name = name.replace(/[.-]+$/, "");
      userId = name.length >= 3 ? byName.get(name.toLowerCase()) : undefined;
    }
    if (userId === undefined) continue;
    if (match.index > at) out.push({ text: text.slice(at, match.index) });
    out.push({ text: `@${name}`, userId, me: userId === meId });
    at = match.index + 1 + name.length;
  }
  if (at < text.length) out.push({ text: text.slice(at) });
  return out.length ? out : [{ text }];
}

/** A new message counted into its chat: one more unread, one more mention when it names me. */
export function countIncoming(chat, msg, meId) {
  chat.unread_count = (chat.unread_count || 0) + 1;
  if (mentionsUser(msg, meId)) chat.unread_mentions = (chat.unread_mentions || 0) + 1;
}

/** A read_ack (or our own read elsewhere) for a chat: the server's counts once it covers what we hold. */
export function applyReadAck(chat, data) {
  if (!chat) return false;
  if ((Number(data.read_seq) || 0) < (chat.last_seq || 0)) return false;
  chat.unread_count = Number(data.unread_count) || 0;
  chat.unread_mentions = Number(data.unread_mentions) || 0;
  return true;
}

/** The quoted preview of a message we reply to, as a reply_to would carry it. */
export function replyPreviewOf(msg) {
  return { id: msg.id, seq: msg.seq, sender_id: msg.sender_id, preview: messagePreview(msg).slice(0, 100) };
}

// ---------------------------------------------------------------- roles, pins, settings

export function roleOf(chat, userId) {
  return (chat?.members || []).find((m) => m.user_id === userId)?.role || null;
}

/** Owner or admin of a group. */
export function canManage(chat, userId) {
  if (!chat || chat.type !== "group") return false;
  const role = roleOf(chat, userId);
  return role === "owner" || role === "admin";
}

/** Any member of a direct chat pins; in a group only its owner and admins. */
export function canPin(chat, userId) {
  if (!chat) return false;
  return chat.type === "direct" ? true : canManage(chat, userId);
}

/** Sets each held message's `pinned` from the chat's pin list; true when any changed. */
export function applyPins(convo, pins) {
  const ids = new Set(pins.map((m) => m.id));
  let changed = false;
  for (const [id, m] of convo.messages) {
    const pinned = ids.has(id);
    if (!!m.pinned !== pinned) {
      convo.messages.set(id, { ...m, pinned });
      changed = true;
    }
  }
  return changed;
}

/** "Forever" as the API takes it: a time no one lives to see. */
export const MUTED_FOREVER = "9999-01-01T00:00:00.000Z";

/** The muted_until for a choice: a number of hours from now, "forever", or null to unmute. */
export function muteUntil(choice, now = new Date()) {
  if (choice === null || choice === "off") return null;
  if (choice === "forever") return MUTED_FOREVER;
  return new Date(now.getTime() + Number(choice) * 3_600_000).toISOString();
}

export function isMuted(chat, now = Date.now()) {
  return ts(chat?.muted_until) > now;
}

/** Muted with no end a person would care about (the year 9000 or later). */
export function isMutedForever(chat) {
  return ts(chat?.muted_until) >= Date.UTC(9000, 0, 1);
}

/** The chat list in two: the active chats and the archived ones, each latest activity first. */
export function splitArchived(chats) {
  const active = [];
  const archived = [];
  for (const chat of sortChats(chats)) (chat.archived ? archived : active).push(chat);
  return { active, archived };
}

// ---------------------------------------------------------------- attachments

/** The contract's limit of attachments on one message. */
export const MAX_ATTACHMENTS = 10;

/** The thumbnail's longest side, as the server makes it. */
export const THUMBNAIL_MAX_PX = 320;

/** "512 B", "1.4 KB", "26.0 MB": sizes as people read them (powers of 1024). */
export function formatBytes(n) {
  const bytes = Math.max(0, Number(n) || 0);
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** Whether an Attachment shows inline: the server made a thumbnail, so it is an image. */
export function isImage(att) {
  return !!att && !!att.thumbnail_url;
}

/** The box an image of w x h takes when its longer side is at most `max`; null when unknown. */
export function fitBox(width, height, max = THUMBNAIL_MAX_PX) {
  const w = Number(width) || 0;
  const hgt = Number(height) || 0;
  if (w <= 0 || hgt <= 0) return null;
  const scale = Math.min(1, max / Math.max(w, hgt));
  return { width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(hgt * scale)) };
}

/** What a message says in one line (chat list, pins, notices): its text, else its files. */
export function messagePreview(msg) {
  if (!msg) return "";
  if (msg.is_deleted) return "Message deleted";
  if (msg.content) return msg.content;
  const atts = Array.isArray(msg.attachments) ? msg.attachments : [];
  if (!atts.length) return "";
  if (atts.length === 1) return `${isImage(atts[0]) ? "🖼" : "📎"} ${atts[0].name}`;
  const images = atts.filter(isImage).length;
  return images === atts.length ? `🖼 ${atts.length} images` : `📎 ${atts.length} files`;
}

/**
 * A file attached in the composer, from the moment it is picked: `uploading` (with `loaded`
 * bytes sent), then `done` (with the server's Attachment) or `failed` (with the reason).
 * `key` is the client's own name for it; the file itself stays with app.js.
 */
export function newUpload(key, chatId, file) {
  return {
    key,
    chat_id: chatId,
    name: (file && file.name) || "file",
    size: Math.max(0, Number(file && file.size) || 0),
    type: (file && file.type) || "",
    loaded: 0,
    status: "uploading",
    error: null,
    attachment: null,
  };
}

/** Progress of an upload: bytes sent only grow, never past the size; ignored once it ended. */
export function uploadProgress(upload, loaded, total) {
  if (upload.status !== "uploading") return upload;
  const size = Number(total) > 0 ? Number(total) : upload.size;
  if (size > 0) upload.size = size;
  upload.loaded = Math.min(upload.size, Math.max(upload.loaded, Number(loaded) || 0));
  return upload;
}

/**
 * The percentage a progress bar shows: 100 once the server answered; at most 99 before, since
 * the last byte sent is not yet a stored file (the server still checks and thumbnails it).
 */
export function uploadPercent(upload) {
  if (upload.status === "done") return 100;
  if (!upload.size) return 0;
  return Math.min(99, Math.floor((100 * upload.loaded) / upload.size));
}

export function uploadDone(upload, attachment) {
  if (upload.status !== "uploading") return upload;
  upload.status = "done";
  upload.loaded = upload.size;
  upload.attachment = attachment;
  upload.error = null;
  return upload;
}

export function uploadFailed(upload, reason) {
  if (upload.status !== "uploading") return upload;
  upload.status = "failed";
  upload.error = reason || "The upload failed.";
  return upload;
}

/** The composer's uploads of one chat, in the order they were attached. */
export function uploadsOf(uploads, chatId) {
  return uploads.filter((u) => u.chat_id === chatId);
}

/** Removes an upload by key; the removed one, or null. */
export function removeUpload(uploads, key) {
  const i = uploads.findIndex((u) => u.key === key);
  return i < 0 ? null : uploads.splice(i, 1)[0];
}

/** How many of `wanted` more files a chat's composer takes (MAX_ATTACHMENTS per message). */
export function uploadRoom(uploads, chatId, wanted) {
  return Math.max(0, Math.min(wanted, MAX_ATTACHMENTS - uploadsOf(uploads, chatId).length));
}

/**
 * What pressing Send does, given the composer's text and its chat's uploads:
 * - `empty`: nothing to send;
 * - `blocked`: an upload failed, and the person must take it away first (`reason`);
 * - `wait`: uploads are still going: send once they are done;
 * - `send`: `content` (empty when the text is only blanks and files are attached) with the
 *   finished uploads' `attachments` and `keys`.
 */
export function composerReadiness(text, uploads) {
  const hasText = String(text || "").trim() !== "";
  const failed = uploads.filter((u) => u.status === "failed");
  if (failed.length) {
    return {
      action: "blocked",
      reason:
        failed.length === 1
          ? `${failed[0].name} could not be uploaded: remove it to send.`
          : `${failed.length} files could not be uploaded: remove them to send.`,
    };
  }
  if (uploads.some((u) => u.status === "uploading")) return { action: "wait" };
  const done = uploads.filter((u) => u.status === "done");
  if (!hasText && !done.length) return { action: "empty" };
  if (done.length > MAX_ATTACHMENTS) {
    return { action: "blocked", reason: `A message carries at most ${MAX_ATTACHMENTS} files.` };
  }
  return {
    action: "send",
    content: hasText ? String(text) : "",
    attachments: done.map((u) => u.attachment),
    keys: done.map((u) => u.key),
  };
}

/**
 * Object URLs shared by key (an attachment's path), counted by their users: the first
 * acquire loads the blob, the last release revokes the URL, also when that comes before the
 * load finished. `load(key)` resolves to a Blob; `create(blob)` returns (or resolves to) its
 * URL and `revoke(url)` gives it back: URL.createObjectURL and URL.revokeObjectURL in the
 * browser (fakes in tests).
 */
export function createUrlCache({ load, create, revoke }) {
  const entries = new Map(); // key -> {refs, url, promise}
  return {
    acquire(key) {
      let e = entries.get(key);
      if (!e) {
        e = { refs: 0, url: null, promise: null };
        entries.set(key, e);
        const entry = e;
        e.promise = Promise.resolve()
          .then(() => load(key))
          .then((blob) => create(blob))
          .then((url) => {
            if (entry.refs > 0 && entries.get(key) === entry) {
              entry.url = url;
            } else {
              revoke(url); // nobody wants it any more
            }
            return url;
          })
          .catch((err) => {
            if (entries.get(key) === entry) entries.delete(key); // the next acquire tries again
            throw err;
          });
      }
      e.refs++;
      return e.promise;
    },
    release(key) {
      const e = entries.get(key);
      if (!e) return;
      e.refs--;
      if (e.refs > 0) return;
      entries.delete(key);
      if (e.url) revoke(e.url);
    },
    /** Revokes every URL (the session ended). */
    clear() {
      for (const e of entries.values()) {
        e.refs = 0;
        if (e.url) revoke(e.url);
      }
      entries.clear();
    },
    /** Keys held and their user counts, for tests. */
    held() {
      return new Map([...entries].map(([k, e]) => [k, e.refs]));
    },
  };
}
