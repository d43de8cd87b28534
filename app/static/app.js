// Messenger web client: what happens when (sign in, open a chat, send, receive, reconnect).
// The state and its merge rules are store.js, the DOM is views.js, the WebSocket is socket.js
// (its names in codes.js). This module holds the one state object and the session's timers,
// and teardown() clears both.

import {
  api,
  ApiError,
  clearTokens,
  describeError,
  describeUploadError,
  fetchBlob,
  getTokens,
  setUnauthorizedHandler,
  uploadAttachment,
  uuid,
} from "./api.js";
import { createAccount } from "./account.js";
import { createBots } from "./botsview.js";
import { ClientFrame, RETRYABLE, ServerEvent } from "./codes.js";
import { createPushControl } from "./notifications.js";
import { createScheduled } from "./scheduledview.js";
import { createModeration } from "./moderationview.js";
import { chatIdFromSearch, openChatRequest } from "./push.js";
import { Connection, FrameError } from "./socket.js";
import {
  applyPins,
  applyReactions,
  applyReadAck,
  applyReceiptTo,
  canPin,
  chatTitle,
  composerReadiness,
  countIncoming,
  createState,
  dropBefore,
  firstGapAfter,
  isMember,
  MAX_ATTACHMENTS,
  mergeChat,
  mergeMessage,
  messagePreview,
  muteUntil,
  newConvo,
  newOutboxItem,
  newUpload,
  otherMember,
  outboxRemove,
  parseOutbox,
  placeNewMessage,
  readCandidate,
  removeUpload,
  replyPreviewOf,
  resetState,
  seqBounds,
  serializeOutbox,
  storeMessage,
  toggleReaction,
  ts,
  uploadDone,
  uploadFailed,
  uploadProgress,
  uploadRoom,
  uploadsOf,
  usernameOf,
} from "./store.js";
import { $, createViews, formError, isVisible, renderPush } from "./views.js";

const PAGE = 50;
const TYPING_SEND_EVERY_MS = 3000;
const READ_MARK_DELAY_MS = 250;
const CHAT_REFRESH_DELAY_MS = 1000;
const SEARCH_DELAY_MS = 250;
const PINS_REFRESH_DELAY_MS = 150;

/** Named one-shot timers; teardown() clears them all at once. */
function createTimers() {
  const pending = new Map();
  return {
    has: (key) => pending.has(key),
    /** (Re)starts the timer `key`. */
    set(key, fn, ms) {
      clearTimeout(pending.get(key));
      pending.set(
        key,
        setTimeout(() => {
          pending.delete(key);
          fn();
        }, ms),
      );
    },
    /** Starts `key` unless it is already running. */
    once(key, fn, ms) {
      if (!pending.has(key)) this.set(key, fn, ms);
    },
    clear(key) {
      clearTimeout(pending.get(key));
      pending.delete(key);
    },
    clearAll() {
      for (const t of pending.values()) clearTimeout(t);
      pending.clear();
    },
  };
}

const state = createState();
const timers = createTimers();
const views = createViews(state, {
  openChat: (id) => openChat(id),
  startDirect: (user) => startDirect(user),
  retry: (item) => deliver(item, true),
  discard: (clientMsgId) => removeFromOutbox(clientMsgId),
  editMessage: (id, text) =>
    changeMessage(ClientFrame.EDIT_MESSAGE, { message_id: id, content: text }, () => api.editMessage(id, text)),
  deleteMessage: (id) => changeMessage(ClientFrame.DELETE_MESSAGE, { message_id: id }, () => api.deleteMessage(id)),
  startReply: (id) => startReply(id),
  toggleReaction: (id, emoji) => reactTo(id, emoji),
  setPinned: (id, pinned) => setPinned(id, pinned),
  openSearchResult: (chatId, messageId, seq) => openSearchResult(chatId, messageId, seq),
  muteChat: (choice) => changeOpenChat((id) => api.chatSettings(id, { muted_until: muteUntil(choice) })),
  archiveChat: (archived) => changeOpenChat((id) => api.chatSettings(id, { archived })),
  renameChat: (title) => changeOpenChat((id) => api.renameChat(id, title)),
  setRole: (userId, role) => changeOpenChat((id) => api.setRole(id, userId, role)),
  transferOwner: (userId) => changeOpenChat((id) => api.transferOwner(id, userId)),
  setMessageTtl: (seconds) => changeOpenChat((id) => api.setMessageTtl(id, seconds)),
  sendLaterOpen: () => scheduled.isOpen(),
  fetchBlob: (path) => fetchBlob(path),
  removeUpload: (key) => cancelUpload(key),
  headerDrawn: (chat) => account.headerDrawn(chat),
  reportMessage: (msg) => moderation.openReport(msg),
  moderationSig: (chat) => moderation.settingsSig(chat),
  moderationSections: (chat, me) => moderation.settingsSections(chat, me),
  memberControls: (chat, me, member) => moderation.memberControls(chat, me, member),
});
const { showError, renderChatList, renderConversationHeader } = views;
const push = createPushControl(renderPush);
// Profiles, a person's card, the settings dialog (account.js).
const account = createAccount(state, {
  views,
  startDirect: (user) => startDirect(user),
  sessionEnded: (text) => sessionEnded(text),
});

// The Bots dialog: the caller's bots, their webhooks and deliveries (botsview.js).
const bots = createBots({ views, isSignedIn: () => !!state.me });

// Scheduled messages: the composer's "send later" bar and the open chat's pending list.
const scheduled = createScheduled({ views, openChatId: () => state.openChatId });
// Reporting, the admin's Reports dialog, bans, mutes and slow mode (moderationview.js).
const moderation = createModeration({
  views,
  me: () => state.me,
  chat: (id) => state.chats.get(id),
  openChatId: () => state.openChatId,
  applyChat: (chat) => upsertChat(chat),
  memberName: (chat, userId) => {
    const m = (chat?.members || []).find((x) => x.user_id === userId);
    const p = state.profiles.get(userId);
    return p?.display_name || m?.username || null;
  },
});

const meId = () => state.me?.id;
const uploadAborts = new Map(); // upload key -> abort(), while its bytes are going out
let uploadCount = 0;
let ending = false;
let searchSeq = 0;
let messageSearchSeq = 0;

// ---------------------------------------------------------------- auth

/**
 * Runs a form's `work` with its submit button disabled (no double submit). What it throws is
 * shown in `errorId`: the text `known[status]` for an expected API refusal, else the error.
 */
async function submitting(form, errorId, work, known = {}) {
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await work();
  } catch (e) {
    formError(errorId, e instanceof ApiError && e.status in known ? known[e.status] : e);
  } finally {
    button.disabled = false;
  }
}

async function onLogin(ev) {
  ev.preventDefault();
  const form = ev.currentTarget;
  const username = $("login-username").value.trim();
  const password = $("login-password").value;
  if (!username || !password) {
    formError("login-error", "Enter your username and password.");
    return;
  }
  formError("login-error", "");
  await submitting(
    form,
    "login-error",
    async () => {
      await api.login(username, password);
      $("login-password").value = "";
      await enterApp();
    },
    { 401: "Wrong username or password." },
  );
}

async function onRegister(ev) {
  ev.preventDefault();
  const form = ev.currentTarget;
  if (!form.checkValidity()) {
    const bad = [...form.elements].find((el) => el.willValidate && !el.validity.valid);
    const label = bad ? form.querySelector(`label[for="${bad.id}"]`)?.textContent : "";
    formError("register-error", `${label ? `${label}: ` : ""}${bad ? bad.validationMessage : "Check the form."}`);
    bad?.focus();
    return;
  }
  formError("register-error", "");
  const username = $("register-username").value.trim();
  const email = $("register-email").value.trim();
  const password = $("register-password").value;
  await submitting(
    form,
    "register-error",
    async () => {
      await api.register(username, email, password);
      await api.login(username, password);
      $("register-password").value = "";
      await enterApp();
    },
    { 409: "That username or email is already taken." },
  );
}

async function onLogout() {
  const conn = state.conn;
  // While the tokens still work: this browser stops getting this account's notifications.
  // Bounded: a server that does not answer must not keep the person from logging out.
  await Promise.race([push.forget().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 3000))]);
  teardown();
  if (conn) conn.stop();
  try {
    await api.logout();
  } catch {
    /* tokens are gone locally either way */
  }
  clearTokens();
  views.showAuth("You are logged out.");
}

function sessionEnded(text = "Your session has ended. Please log in again.") {
  if (ending || !state.me) return;
  ending = true;
  const conn = state.conn;
  teardown();
  if (conn) conn.stop();
  clearTokens();
  views.showAuth(text);
  ending = false;
}

function teardown() {
  const me = state.me;
  for (const abort of uploadAborts.values()) abort();
  uploadAborts.clear();
  account.clear();
  bots.clear();
  scheduled.clear();
  moderation.clear();
  resetState(state);
  timers.clearAll();
  push.reset();
  if (me) localStorage.removeItem(outboxKey(me.id));
  views.clearSession();
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
}

// ---------------------------------------------------------------- entering the app

async function enterApp() {
  const me = await api.me();
  state.me = me;
  state.outbox = parseOutbox(localStorage.getItem(outboxKey(me.id)));
  views.showApp();
  account.showMe();
  moderation.userChanged(me);
  views.setConnectionStatus("connecting");
  try {
    await loadChats();
  } catch (e) {
    if (!state.me) return;
    showError(`Could not load your chats: ${describeError(e)}`);
  }
  if (state.me !== me) return;
  state.conn = new Connection({
    userId: me.id,
    onEvent: handleEvent,
    onStatus: views.setConnectionStatus,
    onConnected: handleConnected,
    onResync: handleResync,
    onAuthLost: () => sessionEnded(),
  });
  state.conn.start();
  push.refresh();
  const fromHash = chatIdFromHash();
  if (fromHash) openChat(fromHash, { focus: false });
  flushOutbox();
}

function handleConnected(data, first) {
  flushOutbox();
  // After a reconnect the replay brings what was missed; REST fills any hole it leaves.
  if (!first) {
    fillGap();
    scheduled.reload();
  }
  scheduleMarkRead();
}

async function handleResync() {
  await Promise.all([loadChats({ reset: true }), reloadOpenChat()]);
  scheduled.reload();
}

// ---------------------------------------------------------------- chats

/** Merges a Chat from REST or an event; the newer last message wins. */
function upsertChat(incoming) {
  if (!incoming || incoming.id == null || !state.me) return null;
  if (!isMember(incoming, state.me.id)) {
    removeChat(incoming.id);
    return null;
  }
  const before = state.chats.get(incoming.id);
  const chat = mergeChat(before, incoming);
  if (chat.id === state.openChatId && isVisible() && state.convo?.loaded) {
    chat.unread_count = 0;
    chat.unread_mentions = 0;
  }
  state.chats.set(chat.id, chat);
  account.learnPeople([chat]);
  renderChatList();
  if (chat.id === state.openChatId) {
    renderConversationHeader();
    // Names and roles show in the messages (who may pin) and the pinned list.
    if (before && canPin(before, meId()) !== canPin(chat, meId())) views.refreshMessages();
  }
  return chat;
}

function removeChat(id) {
  state.chats.delete(id);
  renderChatList();
  if (state.openChatId === id) closeChat();
}

async function loadChats({ reset = false, more = false } = {}) {
  const cursor = more ? state.chatsCursor : null;
  const page = await api.listChats(cursor);
  if (!state.me) return;
  if (reset) {
    const keep = state.openChatId != null ? state.chats.get(state.openChatId) : null;
    state.chats.clear();
    if (keep) state.chats.set(keep.id, keep);
  }
  for (const c of page.items || []) {
    // REST is the truth after a reset; otherwise merge with what events already told us.
    if (reset) state.chats.delete(c.id);
    upsertChat(c);
  }
  state.chatsCursor = page.next_cursor || null;
  renderChatList();
}

/**
 * Counting unread messages locally drifts (a deletion, or a chat rendered while a message was
 * committing): shortly after a change, ask the server for the chat's own count.
 */
function scheduleChatRefresh(chatId, delay = CHAT_REFRESH_DELAY_MS) {
  timers.once(
    `chat-refresh:${chatId}`,
    async () => {
      if (!state.me || !state.chats.has(chatId)) return;
      try {
        upsertChat(await api.getChat(chatId));
      } catch {
        /* the next change tries again */
      }
    },
    delay,
  );
}

/** A chat_updated without a chat: we were removed from one. Ask REST which. */
async function chatGone() {
  try {
    await loadChats({ reset: true });
  } catch {
    return;
  }
  const id = state.openChatId;
  if (id == null) return;
  try {
    upsertChat(await api.getChat(id));
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) removeChat(id);
  }
}

/** A chat we heard of (a message for it) but do not hold yet. */
function ensureChat(id) {
  if (state.chats.has(id)) return Promise.resolve(state.chats.get(id));
  if (!state.chatFetches.has(id)) {
    const p = api
      .getChat(id)
      .then((chat) => upsertChat(chat))
      .catch(() => null)
      .finally(() => state.chatFetches.delete(id));
    state.chatFetches.set(id, p);
  }
  return state.chatFetches.get(id);
}

// ---------------------------------------------------------------- people search, new chats

async function runSearch() {
  const q = $("search-input").value.trim();
  const mine = ++searchSeq;
  if (!q) {
    $("search-results").replaceChildren();
    $("search-status").textContent = "";
    return;
  }
  try {
    const page = await api.searchUsers(q);
    if (mine !== searchSeq) return;
    views.renderSearchResults((page.items || []).filter((u) => u.id !== meId()));
  } catch (e) {
    if (mine === searchSeq) $("search-status").textContent = describeError(e);
  }
}

async function startDirect(user) {
  try {
    const chat = upsertChat(await api.createDirect(user.id));
    views.clearSearch();
    if (chat) openChat(chat.id);
  } catch (e) {
    showError(describeError(e));
  }
}

async function resolveUsername(name) {
  const page = await api.searchUsers(name);
  return (page.items || []).find((u) => u.username.toLowerCase() === name.toLowerCase()) || null;
}

async function onCreateGroup(ev) {
  ev.preventDefault();
  const title = $("group-title").value.trim();
  const names = [...new Set($("group-members").value.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean))];
  if (!title) {
    formError("group-error", "Give the group a name.");
    $("group-title").focus();
    return;
  }
  formError("group-error", "");
  await submitting(ev.currentTarget, "group-error", async () => {
    const users = await Promise.all(names.map(resolveUsername));
    const missing = names.filter((n, i) => !users[i]);
    if (missing.length) {
      formError("group-error", `Nobody is called ${missing.join(", ")}.`);
      return;
    }
    const ids = users.map((u) => u.id).filter((id) => id !== state.me.id);
    const chat = upsertChat(await api.createGroup(title, ids));
    $("group-title").value = "";
    $("group-members").value = "";
    ev.target.closest("details").open = false;
    if (chat) openChat(chat.id);
  });
}

// ---------------------------------------------------------------- opening a chat

function chatIdFromHash() {
  const m = /^#chat\/(\d+)$/.exec(location.hash);
  return m ? Number(m[1]) : null;
}

/**
 * A chat to open that came from outside the page: a notification's click (the service
 * worker's message), or /?chat=ID when it opened a new window. Signed out, it waits in the
 * hash until the sign-in opens it.
 */
function openChatFromOutside(chatId) {
  if (state.me) openChat(chatId);
  else history.replaceState(null, "", `${location.pathname}#chat/${chatId}`);
}

/** /?chat=ID (a notification's link) becomes this client's own #chat/ID route. */
function takeChatFromQuery() {
  const id = chatIdFromSearch(location.search);
  if (id == null) return;
  const params = new URLSearchParams(location.search);
  params.delete("chat");
  const rest = params.toString();
  history.replaceState(null, "", `${location.pathname}${rest ? `?${rest}` : ""}#chat/${id}`);
}

function closeChat() {
  state.openChatId = null;
  state.convo = null;
  state.replyTo = null;
  state.sendWaiting = null;
  scheduled.closeBar({ focus: false });
  scheduled.chatOpened(null);
  views.renderUploads();
  views.renderReplyBar();
  views.renderPins();
  views.clearMessages();
  renderConversationHeader();
  renderChatList();
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
}

async function openChat(chatId, { focus = true } = {}) {
  if (!state.me) return;
  if (state.openChatId === chatId && state.convo) {
    if (focus) $("message-input").focus();
    return;
  }
  state.openChatId = chatId;
  const convo = newConvo(chatId);
  state.convo = convo;
  if (state.replyTo && state.replyTo.chat_id !== chatId) state.replyTo = null;
  // A send waiting for uploads would take the text typed for another chat: it stops.
  if (state.sendWaiting !== chatId) state.sendWaiting = null;
  views.renderUploads();
  views.renderReplyBar();
  views.renderPins();
  if (chatIdFromHash() !== chatId) history.pushState(null, "", `#chat/${chatId}`);
  views.clearMessages();
  $("load-older").hidden = true;
  renderConversationHeader();
  renderChatList();
  views.renderTyping();
  scheduled.chatOpened(chatId);
  moderation.chatOpened(chatId);
  if (focus) $("message-input").focus();

  let chat = state.chats.get(chatId);
  if (!chat) {
    chat = await ensureChat(chatId);
    if (state.convo !== convo) return;
    if (!chat) {
      showError("That chat does not exist or you are not a member.");
      closeChat();
      return;
    }
  }
  renderConversationHeader();
  refreshPresence(chat);
  try {
    const page = await api.messages(chatId, { limit: PAGE });
    if (state.convo !== convo) return;
    const items = page.items || [];
    const pageMin = items.length ? items[0].seq : null;
    // Live events that raced the page and fall before it would leave a hole: drop them,
    // paging back brings them in order.
    if (pageMin != null) dropBefore(convo, pageMin);
    for (const m of items) storeMessage(convo, m);
    account.learnSenders(chatId, items);
    convo.loaded = true;
    convo.hasMore = pageMin != null && pageMin > 1 && (items.length >= PAGE || page.next_cursor != null);
    views.drawMessages({ stickToBottom: true });
    scheduleMarkRead();
    fillGap();
    maybeLoadMoreToFill();
    refreshPins(chatId);
  } catch (e) {
    if (state.convo === convo) showError(`Could not load messages: ${describeError(e)}`);
  }
}

async function reloadOpenChat() {
  const id = state.openChatId;
  if (id == null) return;
  state.openChatId = null;
  state.convo = null;
  await openChat(id, { focus: false });
}

async function refreshPresence(chat) {
  const other = otherMember(chat, meId());
  if (!other) return;
  try {
    const u = await api.user(other.user_id);
    state.presence.set(u.id, { online: !!u.online, last_seen_at: u.last_seen_at });
    renderConversationHeader();
    renderChatList();
  } catch {
    /* presence is a nicety */
  }
}

// ---------------------------------------------------------------- messages

/** Any message: a live event, an ack, a REST answer. Idempotent. */
function applyMessage(msg, { live = false } = {}) {
  if (!msg || msg.id == null || !state.me) return;
  if (msg.sender_id === state.me.id && msg.client_msg_id) removeFromOutbox(msg.client_msg_id);

  const chat = state.chats.get(msg.chat_id);
  const isNew = !chat || (msg.seq || 0) > (chat.last_seq || 0);
  if (live && isNew && msg.sender_id !== state.me.id && !msg.is_deleted && Date.now() - ts(msg.created_at) < 60_000) {
    const where = chat && chat.type === "group" ? ` in ${chatTitle(chat, meId())}` : "";
    views.announce(`${usernameOf(chat, msg.sender_id, meId(), state.profiles)}${where}: ${messagePreview(msg)}`);
  }
  if (!chat) {
    ensureChat(msg.chat_id); // the fetched chat already counts this message
  } else {
    if ((msg.seq || 0) > (chat.last_seq || 0)) {
      chat.last_seq = msg.seq;
      chat.last_message = msg;
      const reading = chat.id === state.openChatId && isVisible();
      if (msg.sender_id !== state.me.id && !reading) {
        countIncoming(chat, msg, state.me.id);
        scheduleChatRefresh(chat.id);
      }
    } else if (chat.last_message && chat.last_message.id === msg.id) {
      chat.last_message = mergeMessage(chat.last_message, msg);
    }
    if (msg.is_deleted && chat.unread_count > 0) scheduleChatRefresh(chat.id);
    renderChatList();
  }

  // Whoever sent a message has stopped typing.
  state.typing.get(msg.chat_id)?.delete(msg.sender_id);

  const convo = state.convo;
  if (!convo || convo.chatId !== msg.chat_id) return;
  views.renderTyping();
  if (!convo.messages.has(msg.id) && convo.loaded) {
    const place = placeNewMessage(convo, msg.seq);
    if (place === "skip") return;
    if (place === "gap") queueMicrotask(fillGap);
  }
  const stick = views.isNearBottom() || msg.sender_id === state.me.id;
  const merged = storeMessage(convo, msg);
  views.upsertMessageEl(merged);
  if (stick) views.scrollToBottom();
  scheduleMarkRead();
}

/** Fetches messages missing between the lowest and the highest seq shown. */
async function fillGap() {
  const convo = state.convo;
  if (!convo || !convo.loaded || convo.fillingGap) return;
  convo.fillingGap = true;
  try {
    for (let round = 0; round < 20; round++) {
      let after = firstGapAfter([...convo.messages.values()].map((m) => m.seq));
      // After a reconnect, also ask for anything newer than the newest shown.
      if (after === null) {
        if (round > 0) break;
        after = seqBounds(convo).max;
      }
      const page = await api.messages(convo.chatId, { afterSeq: after, limit: 200 });
      if (state.convo !== convo) return;
      const items = page.items || [];
      const stick = views.isNearBottom();
      for (const m of items) views.upsertMessageEl(storeMessage(convo, m));
      if (stick) views.scrollToBottom();
      if (!items.length) break;
    }
    scheduleMarkRead();
  } catch {
    /* the next event or reconnect tries again */
  } finally {
    convo.fillingGap = false;
  }
}

async function loadOlder() {
  const convo = state.convo;
  if (!convo || !convo.loaded || !convo.hasMore || convo.loadingOlder) return;
  const { min } = seqBounds(convo);
  if (min == null || min <= 1) {
    convo.hasMore = false;
    $("load-older").hidden = true;
    return;
  }
  convo.loadingOlder = true;
  $("load-older").disabled = true;
  try {
    const page = await api.messages(convo.chatId, { beforeSeq: min, limit: PAGE });
    if (state.convo !== convo) return;
    const items = page.items || [];
    const scroller = $("message-scroll");
    const fromBottom = scroller.scrollHeight - scroller.scrollTop;
    for (const m of items) views.upsertMessageEl(storeMessage(convo, m));
    // Keep the messages the reader was looking at where they were.
    scroller.scrollTop = scroller.scrollHeight - fromBottom;
    const newMin = seqBounds(convo).min;
    convo.hasMore = items.length > 0 && newMin > 1 && (items.length >= PAGE || page.next_cursor != null);
  } catch (e) {
    showError(`Could not load older messages: ${describeError(e)}`);
  } finally {
    convo.loadingOlder = false;
    $("load-older").disabled = false;
    $("load-older").hidden = !convo.hasMore;
  }
  maybeLoadMoreToFill();
}

/** While the history does not fill the view there is no scrolling to ask for more. */
function maybeLoadMoreToFill() {
  const convo = state.convo;
  const scroller = $("message-scroll");
  if (convo && convo.hasMore && !convo.loadingOlder && scroller.scrollHeight <= scroller.clientHeight + 10) {
    loadOlder();
  }
}

// ---------------------------------------------------------------- sending

function outboxKey(userId) {
  return `messenger.outbox.${userId}`;
}

function saveOutbox() {
  if (!state.me) return;
  const text = serializeOutbox(state.outbox);
  try {
    if (text) localStorage.setItem(outboxKey(state.me.id), text);
    else localStorage.removeItem(outboxKey(state.me.id));
  } catch {
    /* memory still holds it */
  }
}

function removeFromOutbox(clientMsgId) {
  if (!outboxRemove(state.outbox, clientMsgId)) return;
  saveOutbox();
  views.removePending(clientMsgId);
}

function sendMessage(chatId, content, replyTo = null, attachments = []) {
  const item = newOutboxItem(chatId, content, uuid(), new Date(), replyTo, attachments);
  state.outbox.push(item);
  saveOutbox();
  if (state.convo?.chatId === chatId) views.appendPending(item);
  deliver(item);
}

/** WebSocket first, REST when the socket is down; the client_msg_id makes repeats harmless. */
async function deliver(item, manual = false) {
  if (item.inflight || !state.outbox.includes(item)) return;
  if (item.status === "failed" && !manual) return;
  item.inflight = true;
  item.status = "sending";
  item.error = null;
  views.redrawPending(item);
  const replyToId = item.reply_to ? item.reply_to.id : null;
  const attachmentIds = (item.attachments || []).map((a) => a.id);
  const data = { chat_id: item.chat_id, content: item.content, client_msg_id: item.client_msg_id };
  if (replyToId != null) data.reply_to_id = replyToId;
  if (attachmentIds.length) data.attachment_ids = attachmentIds;
  try {
    let message = null;
    const conn = state.conn;
    if (conn && conn.isReady()) {
      try {
        message = (await conn.request(ClientFrame.MESSAGE, data, item.client_msg_id)).message;
      } catch (e) {
        if (!(e instanceof FrameError) || !RETRYABLE.has(e.code)) throw e;
      }
    }
    if (!message) {
      message = await api.sendMessage(item.chat_id, item.content, item.client_msg_id, replyToId, attachmentIds);
    }
    item.inflight = false;
    applyMessage(message);
    removeFromOutbox(item.client_msg_id);
    moderation.sent(item.chat_id);
  } catch (e) {
    item.inflight = false;
    if (!state.outbox.includes(item)) return;
    const code = e && e.code;
    if (RETRYABLE.has(code) || (e instanceof ApiError && e.status >= 500)) {
      item.status = "queued"; // sent again on the next connection
    } else {
      item.status = "failed";
      // A mute or slow mode refused it: the composer says until when, or how long to wait.
      item.error = moderation.sendRefused(item.chat_id, e)?.text || describeError(e);
    }
    saveOutbox();
    views.redrawPending(item);
  }
}

function flushOutbox() {
  for (const item of [...state.outbox]) if (item.status !== "failed") deliver(item);
}

function onComposerSubmit(ev) {
  ev.preventDefault();
  if (scheduled.isOpen()) scheduleComposer();
  else submitComposer();
  $("message-input").focus();
}

/**
 * The "send later" bar is open: the composer's text, finished files and reply go to the
 * server as a scheduled message (POST /messages with send_at). Nothing waits in the outbox: a
 * refusal (a past or too distant time, a full rate limit) stays in the bar with the text kept.
 */
async function scheduleComposer() {
  const chatId = state.openChatId;
  if (chatId == null) return;
  const input = $("message-input");
  const ready = composerReadiness(input.value, uploadsOf(state.uploads, chatId));
  if (ready.action === "wait") {
    showError("Wait for the files to finish uploading, then schedule.");
    return;
  }
  if (ready.action !== "send") {
    showError(ready.action === "blocked" ? ready.reason : "Write the message to schedule first.");
    return;
  }
  const reply = state.replyTo && state.replyTo.chat_id === chatId ? state.replyTo : null;
  const ok = await scheduled.schedule(chatId, {
    content: ready.content,
    clientMsgId: uuid(),
    replyToId: reply ? reply.id : null,
    attachmentIds: (ready.attachments || []).map((a) => a.id),
  });
  if (!ok || state.openChatId !== chatId) return;
  if (input.value === ready.content) input.value = ""; // unless more was typed meanwhile
  for (const key of ready.keys) removeUpload(state.uploads, key);
  views.renderUploads();
  if (reply && state.replyTo === reply) {
    state.replyTo = null;
    views.renderReplyBar();
  }
}

/**
 * Sends the composer's text with its chat's finished uploads. While uploads are still going
 * the send waits (the button says so) and happens when the last one finishes; a failed upload
 * stops it until the person removes that file.
 */
function submitComposer() {
  const chatId = state.openChatId;
  if (chatId == null) return;
  const input = $("message-input");
  const ready = composerReadiness(input.value, uploadsOf(state.uploads, chatId));
  if (ready.action === "wait") {
    state.sendWaiting = chatId;
  } else {
    state.sendWaiting = null;
    if (ready.action === "blocked") showError(ready.reason);
  }
  if (ready.action !== "send") {
    views.renderSendState();
    return;
  }
  input.value = "";
  for (const key of ready.keys) removeUpload(state.uploads, key);
  views.renderUploads();
  const reply = state.replyTo && state.replyTo.chat_id === chatId ? state.replyTo : null;
  const { chat_id: _chat, ...replyTo } = reply || {};
  state.replyTo = null;
  views.renderReplyBar();
  sendMessage(chatId, ready.content, reply ? replyTo : null, ready.attachments);
}

// ---------------------------------------------------------------- attachments

/** Files picked or dropped: each starts uploading into the open chat's composer. */
function attachFiles(fileList) {
  const chatId = state.openChatId;
  const files = [...(fileList || [])];
  if (chatId == null || !state.me || !files.length) return;
  const room = uploadRoom(state.uploads, chatId, files.length);
  if (room < files.length) {
    showError(`A message carries at most ${MAX_ATTACHMENTS} files: ${files.length - room} left out.`);
  }
  for (const file of files.slice(0, room)) startUpload(chatId, file);
  views.renderUploads();
}

function startUpload(chatId, file) {
  const upload = newUpload(`u${++uploadCount}`, chatId, file);
  state.uploads.push(upload);
  const { promise, abort } = uploadAttachment(file, (loaded, total) => {
    uploadProgress(upload, loaded, total);
    views.renderUploadProgress(upload);
  });
  uploadAborts.set(upload.key, abort);
  promise
    .then(
      (attachment) => uploadDone(upload, attachment),
      (e) => uploadFailed(upload, describeUploadError(e)),
    )
    .finally(() => {
      uploadAborts.delete(upload.key);
      if (!state.uploads.includes(upload)) return; // removed, or the session ended
      views.renderUploads();
      uploadSettled(chatId);
    });
}

/** The remove button of a chip: an upload still going is cancelled. */
function cancelUpload(key) {
  const upload = removeUpload(state.uploads, key);
  if (!upload) return;
  uploadAborts.get(key)?.();
  uploadAborts.delete(key);
  views.renderUploads();
  uploadSettled(upload.chat_id);
  $("message-input").focus();
}

/** An upload ended or went: a send that waited for it goes now (or learns why it cannot). */
function uploadSettled(chatId) {
  if (state.sendWaiting !== chatId || state.openChatId !== chatId) return;
  const ready = composerReadiness($("message-input").value, uploadsOf(state.uploads, chatId));
  if (ready.action !== "wait") submitComposer();
}

/** Whether a drag carries files (not text or a link dragged within the page). */
function dragHasFiles(ev) {
  return !!ev.dataTransfer && [...ev.dataTransfer.types].includes("Files");
}

function wireDropZone() {
  const zone = $("conversation");
  let depth = 0; // dragenter/dragleave fire for every child crossed
  zone.addEventListener("dragenter", (ev) => {
    if (!dragHasFiles(ev) || state.openChatId == null) return;
    ev.preventDefault();
    depth++;
    views.setDropTarget(true);
  });
  zone.addEventListener("dragover", (ev) => {
    if (!dragHasFiles(ev) || state.openChatId == null) return;
    ev.preventDefault(); // allows the drop
    ev.dataTransfer.dropEffect = "copy";
  });
  zone.addEventListener("dragleave", (ev) => {
    if (!dragHasFiles(ev)) return;
    depth = Math.max(0, depth - 1);
    if (depth === 0) views.setDropTarget(false);
  });
  zone.addEventListener("drop", (ev) => {
    if (!dragHasFiles(ev)) return;
    ev.preventDefault(); // the browser would otherwise open the file
    depth = 0;
    views.setDropTarget(false);
    attachFiles(ev.dataTransfer.files);
  });
  // A file dropped anywhere else must not replace the app with the file.
  for (const type of ["dragover", "drop"]) {
    window.addEventListener(type, (ev) => {
      if (dragHasFiles(ev) && !zone.contains(ev.target)) ev.preventDefault();
    });
  }
}

function onComposerKeydown(ev) {
  if (ev.key === "Escape" && state.replyTo) {
    ev.preventDefault();
    cancelReply();
  } else if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    $("composer").requestSubmit();
  }
}

function onComposerInput() {
  const chatId = state.openChatId;
  if (chatId == null || !$("message-input").value.trim()) return;
  const now = Date.now();
  if (now - (state.typingSentAt.get(chatId) || 0) < TYPING_SEND_EVERY_MS) return;
  if (state.conn?.send(ClientFrame.TYPING, { chat_id: chatId })) state.typingSentAt.set(chatId, now);
}

// ---------------------------------------------------------------- edit and delete

async function changeMessage(type, data, viaRest) {
  const conn = state.conn;
  let message = null;
  if (conn && conn.isReady()) {
    try {
      message = (await conn.request(type, data)).message;
    } catch (e) {
      if (!(e instanceof FrameError) || !RETRYABLE.has(e.code)) throw e;
    }
  }
  if (!message) message = await viaRest();
  applyMessage(message);
  return message;
}

// ---------------------------------------------------------------- replies, reactions, pins, chat settings

function startReply(id) {
  const msg = state.convo?.messages.get(id);
  if (!msg || msg.is_deleted) return;
  state.replyTo = { chat_id: msg.chat_id, ...replyPreviewOf(msg) };
  views.renderReplyBar();
  $("message-input").focus();
}

function cancelReply() {
  state.replyTo = null;
  views.renderReplyBar();
  $("message-input").focus();
}

/** Adds or takes back my reaction: shown at once, then what the server answers. */
async function reactTo(id, emoji) {
  const convo = state.convo;
  const msg = convo?.messages.get(id);
  if (!msg) return;
  const { add, reactions } = toggleReaction(msg.reactions, emoji);
  views.upsertMessageEl(storeReactions(convo, id, reactions));
  try {
    const answer = add ? await api.react(id, emoji) : await api.unreact(id, emoji);
    if (answer) applyMessage(answer);
  } catch (e) {
    const refused = moderation.sendRefused(convo.chatId ?? state.openChatId, e);
    showError(`Could not ${add ? "react" : "take the reaction back"}: ${refused?.text || describeError(e)}`);
    if (state.convo === convo) views.upsertMessageEl(storeReactions(convo, id, msg.reactions || []));
  }
}

function storeReactions(convo, id, reactions) {
  const next = applyReactions(convo.messages.get(id), reactions);
  convo.messages.set(id, next);
  return next;
}

/** The `reactions` event: the message's aggregate, with `me` for this user. */
function applyReactionsEvent(data) {
  const convo = state.convo;
  if (!convo || convo.chatId !== data.chat_id || !convo.messages.has(data.message_id)) return;
  views.upsertMessageEl(storeReactions(convo, data.message_id, data.reactions));
}

async function setPinned(id, pinned) {
  const chatId = state.openChatId;
  try {
    const message = pinned ? await api.pin(chatId, id) : await api.unpin(chatId, id);
    if (message) applyMessage(message);
    refreshPins(chatId);
  } catch (e) {
    showError(`Could not ${pinned ? "pin" : "unpin"}: ${describeError(e)}`);
  }
}

/** The open chat's pins from REST; the shown messages' pin marks follow. */
async function refreshPins(chatId) {
  if (chatId !== state.openChatId || !state.me) return;
  try {
    const page = await api.pins(chatId);
    if (chatId !== state.openChatId) return;
    const pins = page.items || [];
    state.pins.set(chatId, pins);
    views.renderPins();
    if (state.convo?.chatId === chatId && applyPins(state.convo, pins)) views.refreshMessages();
  } catch {
    /* the next chat_updated tries again */
  }
}

function schedulePinsRefresh(chatId) {
  timers.set(`pins:${chatId}`, () => refreshPins(chatId), PINS_REFRESH_DELAY_MS);
}

/** A change to the open chat (settings, title, roles, owner) through REST; its answer is the chat. */
async function changeOpenChat(call) {
  const id = state.openChatId;
  if (id == null) return;
  upsertChat(await call(id));
}

// ---------------------------------------------------------------- message search

async function runMessageSearch() {
  const q = $("message-search-input").value.trim();
  const mine = ++messageSearchSeq;
  if (!q) {
    views.clearMessageSearch();
    return;
  }
  try {
    const page = await api.searchMessages(q);
    if (mine !== messageSearchSeq) return;
    views.renderMessageSearch(page.items || []);
  } catch (e) {
    if (mine !== messageSearchSeq) return;
    const text =
      e instanceof ApiError && (e.status === 404 || e.status === 405)
        ? "Message search is not available on this server."
        : describeError(e);
    views.renderMessageSearch([], text);
  }
}

/**
 * Opens a found message's chat and shows the message. One older than the latest page is
 * fetched with its neighbours; fillGap then brings what lies between, so the history stays
 * whole.
 */
async function openSearchResult(chatId, messageId, seq) {
  await openChat(chatId, { focus: false });
  const convo = state.convo;
  if (state.openChatId !== chatId || !convo || views.revealMessage(messageId)) return;
  if (!convo.loaded || seq == null) return;
  try {
    const page = await api.messages(chatId, { beforeSeq: seq + Math.floor(PAGE / 2), limit: PAGE });
    if (state.convo !== convo) return;
    for (const m of page.items || []) storeMessage(convo, m);
    convo.hasMore = (seqBounds(convo).min || 1) > 1;
    views.drawMessages();
    views.revealMessage(messageId);
    fillGap();
  } catch (e) {
    showError(`Could not load that message: ${describeError(e)}`);
  }
}

// ---------------------------------------------------------------- read marks, receipts, typing, presence

function scheduleMarkRead() {
  timers.once("mark-read", markRead, READ_MARK_DELAY_MS);
}

function markRead() {
  const convo = state.convo;
  if (!convo || !convo.loaded || !isVisible() || !state.me) return;
  const chat = state.chats.get(convo.chatId);
  const { upTo, maxOther } = readCandidate(convo, state.me.id);
  if (!upTo) return;
  const sent = state.readSent.get(convo.chatId) || 0;
  const counted = chat?.unread_count > 0 || chat?.unread_mentions > 0;
  if (upTo <= sent || (maxOther <= sent && !counted)) return;
  state.readSent.set(convo.chatId, upTo);
  const chatId = convo.chatId;
  if (!state.conn?.send(ClientFrame.READ, { chat_id: chatId, up_to_seq: upTo })) {
    api.markRead(chatId, upTo).catch(() => {
      if ((state.readSent.get(chatId) || 0) === upTo) state.readSent.set(chatId, sent);
    });
  }
  if (chat && (chat.unread_count || chat.unread_mentions)) {
    chat.unread_count = 0;
    chat.unread_mentions = 0;
    renderChatList();
  }
}

/** The server's answer to a read: its counts, unless messages came in after what it covered. */
function applyReadAckEvent(data) {
  const chat = state.chats.get(data.chat_id);
  if (!chat) return;
  if (applyReadAck(chat, data)) renderChatList();
  else scheduleChatRefresh(chat.id);
}

function applyReceipt(data) {
  const chat = state.chats.get(data.chat_id);
  const upTo = Number(data.up_to_seq) || 0;
  if (data.user_id === state.me?.id) {
    // Read on another device of ours.
    if (data.status === "read" && chat) {
      if (upTo >= (chat.last_seq || 0)) {
        chat.unread_count = 0;
        chat.unread_mentions = 0;
        renderChatList();
      } else {
        api.getChat(chat.id).then(upsertChat).catch(() => {});
      }
    }
    return;
  }
  applyReceiptTo(state.receipts, data);
  views.refreshStatuses(data.chat_id);
}

function applyTyping(data) {
  if (!state.me || data.user_id === state.me.id) return;
  let perChat = state.typing.get(data.chat_id);
  if (!perChat) {
    perChat = new Map();
    state.typing.set(data.chat_id, perChat);
  }
  perChat.set(data.user_id, Date.now() + views.TYPING_SHOW_MS);
  views.showTyping(data.chat_id);
}

function applyPresence(data) {
  state.presence.set(data.user_id, { online: !!data.online, last_seen_at: data.last_seen_at });
  renderChatList();
  renderConversationHeader();
}

// ---------------------------------------------------------------- server events

function handleEvent(type, data) {
  switch (type) {
    case ServerEvent.MESSAGE:
      applyMessage(data.message, { live: true });
      break;
    case ServerEvent.MESSAGE_EDITED:
    case ServerEvent.MESSAGE_DELETED:
    case ServerEvent.MESSAGE_ACK:
      applyMessage(data.message);
      break;
    case ServerEvent.RECEIPT:
      applyReceipt(data);
      break;
    case ServerEvent.CHAT_UPDATED:
      if (data.chat && data.chat.removed) {
        removeChat(data.chat.id);
      } else if (data.chat) {
        upsertChat(data.chat);
        // Pins change the chat without changing what a Chat carries: look again.
        if (data.chat.id === state.openChatId) schedulePinsRefresh(data.chat.id);
      } else {
        chatGone();
      }
      break;
    case ServerEvent.REACTIONS:
      applyReactionsEvent(data);
      break;
    case ServerEvent.READ_ACK:
      applyReadAckEvent(data);
      break;
    case ServerEvent.TYPING:
      applyTyping(data);
      break;
    case ServerEvent.PRESENCE:
      applyPresence(data);
      break;
    case ServerEvent.USER_UPDATED:
      account.applyUserUpdated(data.user);
      break;
    case ServerEvent.BOT_UPDATED:
      bots.applyBotUpdated(data);
      break;
    case ServerEvent.SCHEDULED_UPDATED:
      scheduled.applyScheduledUpdated(data);
      break;
    case ServerEvent.SCHEDULED_FAILED:
      scheduled.applyScheduledFailed(data);
      break;
    case ServerEvent.ADMIN_REPORT:
      moderation.applyAdminReport(data);
      break;
    case ServerEvent.ERROR:
      showError(data.message || data.code || "The server reported an error.");
      break;
    default:
      break; // a newer server's event this client does not know
  }
}

// ---------------------------------------------------------------- start

function wire() {
  $("login-form").addEventListener("submit", onLogin);
  $("register-form").addEventListener("submit", onRegister);
  $("logout-button").addEventListener("click", onLogout);
  $("search-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    timers.clear("search");
    runSearch();
  });
  $("search-input").addEventListener("input", () => {
    timers.set("search", runSearch, SEARCH_DELAY_MS);
  });
  $("message-search-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    timers.clear("message-search");
    runMessageSearch();
  });
  $("message-search-input").addEventListener("input", () => {
    timers.set("message-search", runMessageSearch, SEARCH_DELAY_MS);
  });
  $("reply-cancel").addEventListener("click", cancelReply);
  $("group-form").addEventListener("submit", onCreateGroup);
  $("chats-more").addEventListener("click", () =>
    loadChats({ more: true }).catch((e) => showError(describeError(e))),
  );
  $("composer").addEventListener("submit", onComposerSubmit);
  $("attach-button").addEventListener("click", () => $("file-input").click());
  $("message-input").addEventListener("paste", (ev) => {
    const files = ev.clipboardData?.files;
    if (!files || !files.length) return; // text pastes as text
    ev.preventDefault();
    attachFiles(files);
  });
  $("file-input").addEventListener("change", (ev) => {
    attachFiles(ev.target.files);
    ev.target.value = ""; // the same file may be picked again
  });
  wireDropZone();
  $("message-input").addEventListener("keydown", onComposerKeydown);
  $("message-input").addEventListener("input", onComposerInput);
  $("load-older").addEventListener("click", loadOlder);
  $("message-scroll").addEventListener("scroll", () => {
    if ($("message-scroll").scrollTop < 40) loadOlder();
  });
  document.addEventListener("visibilitychange", () => {
    if (isVisible()) scheduleMarkRead();
  });
  window.addEventListener("online", flushOutbox);
  window.addEventListener("hashchange", () => {
    const id = chatIdFromHash();
    if (id != null && state.me && id !== state.openChatId) openChat(id, { focus: false });
  });
  window.addEventListener("popstate", () => {
    const id = chatIdFromHash();
    if (!state.me) return;
    if (id == null) closeChat();
    else if (id !== state.openChatId) openChat(id, { focus: false });
  });
  setUnauthorizedHandler(() => sessionEnded());
  $("push-toggle").addEventListener("click", () => push.toggle());
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.addEventListener("message", (ev) => {
      const id = openChatRequest(ev.data);
      if (id != null) openChatFromOutside(id);
    });
    navigator.serviceWorker.startMessages(); // this page is outside the worker's scope
  }
  account.wire();
  bots.wire();
  scheduled.wire();
  moderation.wire();
}

async function boot() {
  takeChatFromQuery();
  wire();
  if (!getTokens()) {
    views.showAuth();
    return;
  }
  try {
    await enterApp();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      sessionEnded();
      views.showAuth("Your session has ended. Please log in again.");
    } else {
      state.me = null;
      views.showAuth(`Could not reach the server: ${describeError(e)}`);
    }
  }
}

boot();
