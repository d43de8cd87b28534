// Messenger web client: screens, chat list, conversation, sending, receipts, typing, presence.
// Everything the server sends is inserted as text (textContent), never as HTML.

import {
  api,
  ApiError,
  clearTokens,
  describeError,
  getTokens,
  setUnauthorizedHandler,
  uuid,
} from "./api.js";
import { Connection, FrameError } from "./socket.js";

const PAGE = 50;
const TYPING_SEND_EVERY_MS = 3000;
const TYPING_SHOW_MS = 5000;
const NEAR_BOTTOM_PX = 80;

// ---------------------------------------------------------------- state

const state = {
  me: null,
  conn: null,
  chats: new Map(), // id -> Chat
  chatsCursor: null,
  openChatId: null,
  convo: null, // the open chat's messages, see newConvo()
  presence: new Map(), // user id -> {online, last_seen_at}
  typing: new Map(), // chat id -> Map(user id -> expires at, ms)
  receipts: new Map(), // chat id -> Map(user id -> {delivered, read}) up_to_seq per member
  outbox: [], // messages not yet acknowledged: {client_msg_id, chat_id, content, created_at, status, error}
  typingSentAt: new Map(), // chat id -> ms
  readSent: new Map(), // chat id -> highest up_to_seq sent
  chatFetches: new Map(), // chat id -> promise, for chats we heard of but do not have
};

function newConvo(chatId) {
  return {
    chatId,
    messages: new Map(), // id -> Message
    loaded: false,
    hasMore: false,
    loadingOlder: false,
    fillingGap: false,
  };
}

// ---------------------------------------------------------------- DOM helpers

const $ = (id) => document.getElementById(id);

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const now = new Date();
  const sameDay = d.toDateString() === now.toDateString();
  return sameDay
    ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : d.toLocaleDateString([], { month: "short", day: "numeric" }) +
        " " +
        d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function ts(iso) {
  const t = Date.parse(iso || "");
  return Number.isNaN(t) ? 0 : t;
}

let toastTimer = null;
function showError(text) {
  const el = $("app-error");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    el.hidden = true;
  }, 6000);
}

function announce(text) {
  const el = $("announcer");
  el.append(h("p", { text }));
  while (el.childNodes.length > 5) el.firstChild.remove();
}

function isVisible() {
  return document.visibilityState === "visible";
}

// ---------------------------------------------------------------- screens

function showAuth(notice) {
  $("auth-view").hidden = false;
  $("chat-view").hidden = true;
  $("logout-button").hidden = true;
  $("current-user").hidden = true;
  document.querySelector("[data-skip-link]").hidden = true;
  const n = $("auth-notice");
  n.textContent = notice || "";
  n.hidden = !notice;
  setConnectionStatus("offline");
  document.title = "Messenger";
  $("login-username").focus();
}

function showApp() {
  $("auth-view").hidden = true;
  $("chat-view").hidden = false;
  $("logout-button").hidden = false;
  const cu = $("current-user");
  cu.replaceChildren(h("span", { class: "visually-hidden" }, "Signed in as "), state.me.username);
  cu.hidden = false;
  document.querySelector("[data-skip-link]").hidden = false;
}

function setConnectionStatus(status, detail) {
  const el = $("connection-status");
  const labels = {
    connecting: "Connecting…",
    online: "Online",
    reconnecting: "Reconnecting…",
    offline: "Offline",
  };
  el.dataset.state = status;
  el.textContent = labels[status] || status;
  if (status === "reconnecting" && detail && detail.delay) {
    el.title = `Next attempt in ${(detail.delay / 1000).toFixed(1)} s`;
  } else {
    el.removeAttribute("title");
  }
}

// ---------------------------------------------------------------- auth

function formError(id, err) {
  $(id).textContent = err ? (typeof err === "string" ? err : describeError(err)) : "";
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
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await api.login(username, password);
    $("login-password").value = "";
    await enterApp();
  } catch (e) {
    formError(
      "login-error",
      e instanceof ApiError && e.status === 401 ? "Wrong username or password." : e,
    );
  } finally {
    button.disabled = false;
  }
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
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await api.register(username, email, password);
    await api.login(username, password);
    $("register-password").value = "";
    await enterApp();
  } catch (e) {
    formError(
      "register-error",
      e instanceof ApiError && e.status === 409 ? "That username or email is already taken." : e,
    );
  } finally {
    button.disabled = false;
  }
}

async function onLogout() {
  const conn = state.conn;
  teardown();
  if (conn) conn.stop();
  try {
    await api.logout();
  } catch {
    /* tokens are gone locally either way */
  }
  clearTokens();
  showAuth("You are logged out.");
}

let ending = false;
function sessionEnded(text = "Your session has ended. Please log in again.") {
  if (ending || !state.me) return;
  ending = true;
  const conn = state.conn;
  teardown();
  if (conn) conn.stop();
  clearTokens();
  showAuth(text);
  ending = false;
}

function teardown() {
  const me = state.me;
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
  for (const t of chatRefreshTimers.values()) clearTimeout(t);
  chatRefreshTimers.clear();
  if (me) localStorage.removeItem(outboxKey(me.id));
  $("chat-list").replaceChildren();
  $("message-list").replaceChildren();
  $("search-results").replaceChildren();
  $("search-input").value = "";
  $("message-input").value = "";
  renderConversationHeader();
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
}

// ---------------------------------------------------------------- entering the app

async function enterApp() {
  const me = await api.me();
  state.me = me;
  state.outbox = loadOutbox();
  showApp();
  setConnectionStatus("connecting");
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
    onStatus: setConnectionStatus,
    onConnected: handleConnected,
    onResync: handleResync,
    onAuthLost: () => sessionEnded(),
  });
  state.conn.start();
  const fromHash = chatIdFromHash();
  if (fromHash) openChat(fromHash, { focus: false });
  flushOutbox();
}

function handleConnected(data, first) {
  flushOutbox();
  // After a reconnect the replay brings what was missed; REST fills any hole it leaves.
  if (!first) fillGap();
  scheduleMarkRead();
}

async function handleResync() {
  await Promise.all([loadChats({ reset: true }), reloadOpenChat()]);
}

// ---------------------------------------------------------------- chats

function chatTitle(chat) {
  if (chat.type === "group") return chat.title || "Group";
  const other = (chat.members || []).find((m) => m.user_id !== state.me?.id);
  return other ? other.username : chat.title || "Direct chat";
}

function otherMember(chat) {
  if (!chat || chat.type !== "direct") return null;
  return (chat.members || []).find((m) => m.user_id !== state.me?.id) || null;
}

function usernameOf(chat, userId) {
  if (userId === state.me?.id) return "You";
  const m = (chat?.members || []).find((x) => x.user_id === userId);
  return m ? m.username : `User ${userId}`;
}

function activity(chat) {
  return ts(chat.last_message?.created_at) || ts(chat.created_at);
}

/** Merges a Chat from REST or an event; the newer last message wins. */
function upsertChat(incoming) {
  if (!incoming || incoming.id == null || !state.me) return null;
  if (state.me && Array.isArray(incoming.members) && incoming.members.length &&
      !incoming.members.some((m) => m.user_id === state.me.id)) {
    removeChat(incoming.id);
    return null;
  }
  const cur = state.chats.get(incoming.id);
  let chat;
  if (!cur) {
    chat = { ...incoming };
  } else {
    chat = { ...cur, ...incoming };
    if ((cur.last_seq || 0) > (incoming.last_seq || 0)) {
      chat.last_seq = cur.last_seq;
      chat.last_message = cur.last_message;
      chat.unread_count = cur.unread_count;
    }
    if (incoming.unread_count === undefined) chat.unread_count = cur.unread_count;
  }
  if (chat.id === state.openChatId && isVisible() && state.convo?.loaded) chat.unread_count = 0;
  state.chats.set(chat.id, chat);
  renderChatList();
  if (chat.id === state.openChatId) renderConversationHeader();
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
const chatRefreshTimers = new Map();
function scheduleChatRefresh(chatId, delay = 1000) {
  if (chatRefreshTimers.has(chatId)) return;
  chatRefreshTimers.set(
    chatId,
    setTimeout(async () => {
      chatRefreshTimers.delete(chatId);
      if (!state.me || !state.chats.has(chatId)) return;
      try {
        upsertChat(await api.getChat(chatId));
      } catch {
        /* the next change tries again */
      }
    }, delay),
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

let chatListFrame = 0;
function renderChatList() {
  if (chatListFrame) return;
  chatListFrame = requestAnimationFrame(() => {
    chatListFrame = 0;
    drawChatList();
  });
}

function chatItemChildren(chat) {
  const unread = chat.unread_count || 0;
  const last = chat.last_message;
  let preview = "No messages yet";
  if (last) {
    const who =
      last.sender_id === state.me?.id
        ? "You: "
        : chat.type === "group"
          ? `${usernameOf(chat, last.sender_id)}: `
          : "";
    preview = who + (last.is_deleted ? "Message deleted" : last.content);
  }
  const other = otherMember(chat);
  const online = other ? state.presence.get(other.user_id)?.online : false;
  return [
    h(
      "span",
      { class: "chat-title", "data-testid": "chat-item-title" },
      chatTitle(chat),
      online ? h("span", { class: "dot", role: "img", "aria-label": "online", title: "online" }) : null,
    ),
    h("time", { class: "chat-time", datetime: last?.created_at || chat.created_at }, fmtTime(last?.created_at)),
    h("span", { class: "chat-preview", "data-testid": "chat-item-preview" }, preview),
    unread > 0
      ? h(
          "span",
          { class: "badge", "data-testid": "unread-count", "data-count": unread },
          h("span", { "aria-hidden": "true" }, String(unread)),
          h("span", { class: "visually-hidden" }, `${unread} unread`),
        )
      : h("span", {}),
  ];
}

/** Updates the list in place, keyed by chat id: buttons under the pointer or focus survive. */
function drawChatList() {
  const list = $("chat-list");
  const chats = [...state.chats.values()].sort((a, b) => activity(b) - activity(a) || b.id - a.id);
  const existing = new Map([...list.children].map((li) => [li.dataset.chatId, li]));
  let totalUnread = 0;
  chats.forEach((chat, i) => {
    totalUnread += chat.unread_count || 0;
    const key = String(chat.id);
    let li = existing.get(key);
    if (li) {
      existing.delete(key);
    } else {
      li = h(
        "li",
        { "data-chat-id": key },
        h("button", {
          type: "button",
          class: "chat-item",
          "data-testid": "chat-item",
          "data-chat-id": key,
          onclick: () => openChat(chat.id),
        }),
      );
    }
    const button = li.firstElementChild;
    if (chat.id === state.openChatId) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
    const children = chatItemChildren(chat);
    const sig = children.map((c) => c.outerHTML).join("");
    if (button.dataset.sig !== sig) {
      button.replaceChildren(...children);
      button.dataset.sig = sig;
    }
    if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
  });
  for (const li of existing.values()) li.remove();
  $("chat-list-empty").hidden = chats.length > 0;
  $("chats-more").hidden = !state.chatsCursor;
  document.title = totalUnread > 0 ? `(${totalUnread}) Messenger` : "Messenger";
}

// ---------------------------------------------------------------- people search, new chats

let searchSeq = 0;
let searchTimer = null;

async function runSearch() {
  const q = $("search-input").value.trim();
  const mine = ++searchSeq;
  const results = $("search-results");
  if (!q) {
    results.replaceChildren();
    $("search-status").textContent = "";
    return;
  }
  try {
    const page = await api.searchUsers(q);
    if (mine !== searchSeq) return;
    const people = (page.items || []).filter((u) => u.id !== state.me?.id);
    results.replaceChildren(
      ...people.map((u) =>
        h(
          "li",
          {},
          h(
            "button",
            {
              type: "button",
              class: "secondary",
              "data-testid": "search-result",
              "data-user-id": u.id,
              "data-username": u.username,
              onclick: () => startDirect(u),
            },
            `Chat with ${u.username}`,
            u.online ? h("span", { class: "dot", role: "img", "aria-label": "online" }) : null,
          ),
        ),
      ),
    );
    $("search-status").textContent = people.length
      ? `${people.length} ${people.length === 1 ? "person" : "people"} found`
      : "Nobody found";
  } catch (e) {
    if (mine === searchSeq) $("search-status").textContent = describeError(e);
  }
}

async function startDirect(user) {
  try {
    const chat = upsertChat(await api.createDirect(user.id));
    $("search-results").replaceChildren();
    $("search-input").value = "";
    $("search-status").textContent = "";
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
  const button = ev.currentTarget.querySelector("button[type=submit]");
  button.disabled = true;
  try {
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
  } catch (e) {
    formError("group-error", e);
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- opening a chat

function chatIdFromHash() {
  const m = /^#chat\/(\d+)$/.exec(location.hash);
  return m ? Number(m[1]) : null;
}

function closeChat() {
  state.openChatId = null;
  state.convo = null;
  $("message-list").replaceChildren();
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
  if (chatIdFromHash() !== chatId) history.pushState(null, "", `#chat/${chatId}`);
  $("message-list").replaceChildren();
  $("load-older").hidden = true;
  renderConversationHeader();
  renderChatList();
  renderTyping();
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
    if (pageMin != null) {
      for (const [id, m] of convo.messages) if (m.seq < pageMin) convo.messages.delete(id);
    }
    for (const m of items) storeMessage(convo, m);
    convo.loaded = true;
    convo.hasMore = pageMin != null && pageMin > 1 && (items.length >= PAGE || page.next_cursor != null);
    drawMessages({ stickToBottom: true });
    scheduleMarkRead();
    fillGap();
    maybeLoadMoreToFill();
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

function renderConversationHeader() {
  const chat = state.openChatId != null ? state.chats.get(state.openChatId) : null;
  const hasChat = state.openChatId != null;
  $("chat-title").textContent = chat ? chatTitle(chat) : hasChat ? "Loading…" : "No chat open";
  $("conversation-placeholder").hidden = hasChat;
  $("message-input").disabled = !hasChat;
  $("send-button").disabled = !hasChat;
  const presence = $("presence");
  const other = otherMember(chat);
  if (other) {
    const p = state.presence.get(other.user_id);
    presence.dataset.online = p?.online ? "true" : "false";
    presence.textContent = !p
      ? ""
      : p.online
        ? "online"
        : p.last_seen_at
          ? `last seen ${fmtTime(p.last_seen_at)}`
          : "offline";
  } else {
    presence.textContent = "";
    delete presence.dataset.online;
  }
  $("chat-members").textContent =
    chat && chat.type === "group" ? (chat.members || []).map((m) => m.username).join(", ") : "";
}

async function refreshPresence(chat) {
  const other = otherMember(chat);
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

// ---------------------------------------------------------------- messages: store

/** Keeps the most complete version: deletion sticks, the later edit wins, receipts only grow. */
function mergeMessage(old, neu) {
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

function storeMessage(convo, msg) {
  const merged = mergeMessage(convo.messages.get(msg.id), msg);
  convo.messages.set(msg.id, merged);
  return merged;
}

function seqBounds(convo) {
  let min = Infinity;
  let max = 0;
  for (const m of convo.messages.values()) {
    if (m.seq < min) min = m.seq;
    if (m.seq > max) max = m.seq;
  }
  return { min: min === Infinity ? null : min, max };
}

/** Any message: a live event, an ack, a REST answer. Idempotent. */
function applyMessage(msg, { live = false } = {}) {
  if (!msg || msg.id == null || !state.me) return;
  if (msg.sender_id === state.me.id && msg.client_msg_id) removeFromOutbox(msg.client_msg_id);

  const chat = state.chats.get(msg.chat_id);
  const isNew = !chat || (msg.seq || 0) > (chat.last_seq || 0);
  if (live && isNew && msg.sender_id !== state.me.id && !msg.is_deleted && Date.now() - ts(msg.created_at) < 60_000) {
    const where = chat && chat.type === "group" ? ` in ${chatTitle(chat)}` : "";
    announce(`${usernameOf(chat, msg.sender_id)}${where}: ${msg.content}`);
  }
  if (!chat) {
    ensureChat(msg.chat_id); // the fetched chat already counts this message
  } else {
    if ((msg.seq || 0) > (chat.last_seq || 0)) {
      chat.last_seq = msg.seq;
      chat.last_message = msg;
      const reading = chat.id === state.openChatId && isVisible();
      if (msg.sender_id !== state.me.id && !reading) {
        chat.unread_count = (chat.unread_count || 0) + 1;
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
  renderTyping();
  const known = convo.messages.has(msg.id);
  if (!known && convo.loaded) {
    const { min, max } = seqBounds(convo);
    // Older than what is shown: paging back brings it, in order.
    if (min != null && msg.seq < min && convo.hasMore) return;
    if (max && msg.seq > max + 1) queueMicrotask(fillGap);
  }
  const stick = isNearBottom() || msg.sender_id === state.me.id;
  const merged = storeMessage(convo, msg);
  upsertMessageEl(merged);
  if (stick) scrollToBottom();
  scheduleMarkRead();
}

/** Fetches messages missing between the lowest and the highest seq shown. */
async function fillGap() {
  const convo = state.convo;
  if (!convo || !convo.loaded || convo.fillingGap) return;
  convo.fillingGap = true;
  try {
    for (let round = 0; round < 20; round++) {
      const seqs = [...convo.messages.values()].map((m) => m.seq).sort((a, b) => a - b);
      let after = null;
      for (let i = 1; i < seqs.length; i++) {
        if (seqs[i] > seqs[i - 1] + 1) {
          after = seqs[i - 1];
          break;
        }
      }
      // After a reconnect, also ask for anything newer than the newest shown.
      if (after === null) {
        if (round > 0) break;
        after = seqs.length ? seqs[seqs.length - 1] : 0;
      }
      const page = await api.messages(convo.chatId, { afterSeq: after, limit: 200 });
      if (state.convo !== convo) return;
      const items = page.items || [];
      const stick = isNearBottom();
      for (const m of items) upsertMessageEl(storeMessage(convo, m));
      if (stick) scrollToBottom();
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
    for (const m of items) upsertMessageEl(storeMessage(convo, m));
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

// ---------------------------------------------------------------- messages: view

function isNearBottom() {
  const s = $("message-scroll");
  return s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
}

function scrollToBottom() {
  const s = $("message-scroll");
  s.scrollTop = s.scrollHeight;
}

function drawMessages({ stickToBottom = false } = {}) {
  const convo = state.convo;
  const list = $("message-list");
  list.replaceChildren();
  if (!convo) return;
  const msgs = [...convo.messages.values()].sort((a, b) => a.seq - b.seq);
  list.append(...msgs.map(messageEl));
  for (const item of state.outbox) if (item.chat_id === convo.chatId) list.append(pendingEl(item));
  $("load-older").hidden = !convo.hasMore;
  if (stickToBottom) scrollToBottom();
}

function statusOf(msg, chat) {
  if (msg.read_at) return "read";
  const others = (chat?.members || []).map((m) => m.user_id).filter((id) => id !== state.me?.id);
  const r = state.receipts.get(msg.chat_id);
  if (others.length && r) {
    if (others.every((u) => (r.get(u)?.read || 0) >= msg.seq)) return "read";
    if (!msg.delivered_at && others.every((u) => (r.get(u)?.delivered || 0) >= msg.seq)) return "delivered";
  }
  return msg.delivered_at ? "delivered" : "sent";
}

const STATUS_TEXT = {
  sending: ["…", "Sending"],
  queued: ["…", "Waiting for the connection"],
  sent: ["•", "Sent"],
  delivered: ["✓", "Delivered"],
  read: ["✓✓", "Read"],
  failed: ["!", "Not sent"],
};

function statusEl(status) {
  const [glyph, label] = STATUS_TEXT[status];
  return h(
    "span",
    { class: "status", "data-testid": "message-status", "data-status": status, title: label },
    h("span", { "aria-hidden": "true" }, glyph),
    h("span", { class: "visually-hidden" }, label),
  );
}

function messageEl(msg) {
  const chat = state.chats.get(msg.chat_id);
  const mine = msg.sender_id === state.me?.id;
  const li = h("li", {
    class: `message ${mine ? "mine" : "theirs"}${msg.is_deleted ? " deleted" : ""}`,
    "data-testid": "message",
    "data-message-id": msg.id,
    "data-seq": msg.seq,
    "data-sender-id": msg.sender_id,
  });
  fillMessageEl(li, msg, chat, mine);
  return li;
}

function messageSig(msg, chat, mine) {
  return JSON.stringify([msg.content, msg.edited_at, msg.is_deleted, msg.created_at,
    usernameOf(chat, msg.sender_id), mine ? statusOf(msg, chat) : ""]);
}

function fillMessageEl(li, msg, chat, mine) {
  li.dataset.sig = messageSig(msg, chat, mine);
  li.className = `message ${mine ? "mine" : "theirs"}${msg.is_deleted ? " deleted" : ""}`;
  li.dataset.deleted = msg.is_deleted ? "true" : "false";
  const bubble = h(
    "div",
    { class: "bubble" },
    h(
      "div",
      { class: "meta" },
      h("span", { class: "sender", "data-testid": "message-sender" }, usernameOf(chat, msg.sender_id)),
      h("time", { datetime: msg.created_at, title: new Date(msg.created_at).toLocaleString() }, fmtTime(msg.created_at)),
    ),
    h("p", { class: "content", "data-testid": "message-content" }, msg.is_deleted ? "Message deleted" : msg.content),
    h(
      "div",
      { class: "footer" },
      msg.edited_at && !msg.is_deleted ? h("span", { class: "edited", "data-testid": "message-edited" }, "edited") : null,
      mine ? statusEl(statusOf(msg, chat)) : null,
    ),
  );
  const actions =
    mine && !msg.is_deleted
      ? h(
          "div",
          { class: "actions" },
          h("button", { type: "button", class: "link", "data-testid": "edit-button", "aria-label": "Edit message", onclick: () => startEdit(li) }, "Edit"),
          h("button", { type: "button", class: "link", "data-testid": "delete-button", "aria-label": "Delete message", onclick: () => confirmDelete(li) }, "Delete"),
        )
      : null;
  li.replaceChildren(bubble, ...(actions ? [actions] : []));
}

function upsertMessageEl(msg) {
  const list = $("message-list");
  const existing = list.querySelector(`[data-message-id="${msg.id}"]`);
  const chat = state.chats.get(msg.chat_id);
  const mine = msg.sender_id === state.me?.id;
  if (existing) {
    if (existing.dataset.editing === "true") {
      // Keep the open editor; only the receipt mark follows.
      const st = existing.querySelector("[data-testid=message-status]");
      if (st && mine) st.replaceWith(statusEl(statusOf(msg, chat)));
      if (msg.is_deleted) fillMessageEl(existing, msg, chat, mine);
      return;
    }
    if (existing.dataset.sig !== messageSig(msg, chat, mine)) fillMessageEl(existing, msg, chat, mine);
    return;
  }
  const el = messageEl(msg);
  // In seq order, before any message still being sent.
  let before = null;
  for (const child of list.children) {
    if (child.dataset.pending === "true") {
      before = child;
      break;
    }
    if (Number(child.dataset.seq) > msg.seq) {
      before = child;
      break;
    }
  }
  list.insertBefore(el, before);
  $("load-older").hidden = !state.convo?.hasMore;
}

function refreshStatuses(chatId) {
  const convo = state.convo;
  if (!convo || convo.chatId !== chatId) return;
  const chat = state.chats.get(chatId);
  for (const el of $("message-list").querySelectorAll(".message.mine[data-message-id]")) {
    const msg = convo.messages.get(Number(el.dataset.messageId));
    const st = el.querySelector("[data-testid=message-status]");
    if (!msg || !st) continue;
    const status = statusOf(msg, chat);
    if (st.dataset.status !== status) {
      st.replaceWith(statusEl(status));
      el.dataset.sig = messageSig(msg, chat, true);
    }
  }
}

// ---------------------------------------------------------------- sending

function outboxKey(userId) {
  return `messenger.outbox.${userId}`;
}

function loadOutbox() {
  try {
    const items = JSON.parse(localStorage.getItem(outboxKey(state.me.id)) || "[]");
    return Array.isArray(items)
      ? items.map((i) => ({ ...i, status: i.status === "failed" ? "failed" : "sending", inflight: false }))
      : [];
  } catch {
    return [];
  }
}

function saveOutbox() {
  if (!state.me) return;
  const keep = state.outbox.map(({ client_msg_id, chat_id, content, created_at, status, error }) => ({
    client_msg_id, chat_id, content, created_at, status, error,
  }));
  try {
    if (keep.length) localStorage.setItem(outboxKey(state.me.id), JSON.stringify(keep));
    else localStorage.removeItem(outboxKey(state.me.id));
  } catch {
    /* memory still holds it */
  }
}

function removeFromOutbox(clientMsgId) {
  const i = state.outbox.findIndex((x) => x.client_msg_id === clientMsgId);
  if (i < 0) return;
  state.outbox.splice(i, 1);
  saveOutbox();
  document.querySelector(`[data-client-msg-id="${CSS.escape(clientMsgId)}"][data-pending="true"]`)?.remove();
}

function pendingEl(item) {
  const status = item.status;
  return h(
    "li",
    {
      class: "message mine",
      "data-testid": "message",
      "data-pending": "true",
      "data-client-msg-id": item.client_msg_id,
    },
    h(
      "div",
      { class: "bubble" },
      h("div", { class: "meta" }, h("span", { class: "sender" }, "You")),
      h("p", { class: "content", "data-testid": "message-content" }, item.content),
      h("div", { class: "footer" }, item.error ? h("span", { class: "error" }, item.error) : null, statusEl(status)),
    ),
    status === "failed"
      ? h(
          "div",
          { class: "actions" },
          h("button", { type: "button", class: "link", "data-testid": "retry-button", onclick: () => deliver(item, true) }, "Retry"),
          h("button", { type: "button", class: "link", "data-testid": "discard-button", onclick: () => removeFromOutbox(item.client_msg_id) }, "Discard"),
        )
      : null,
  );
}

function redrawPending(item) {
  const el = document.querySelector(`[data-client-msg-id="${CSS.escape(item.client_msg_id)}"][data-pending="true"]`);
  if (el) el.replaceWith(pendingEl(item));
  else if (state.convo?.chatId === item.chat_id && state.outbox.includes(item)) $("message-list").append(pendingEl(item));
}

function sendMessage(chatId, content) {
  const item = {
    client_msg_id: uuid(),
    chat_id: chatId,
    content,
    created_at: new Date().toISOString(),
    status: "sending",
    error: null,
    inflight: false,
  };
  state.outbox.push(item);
  saveOutbox();
  if (state.convo?.chatId === chatId) {
    $("message-list").append(pendingEl(item));
    scrollToBottom();
  }
  deliver(item);
}

const RETRYABLE = new Set(["disconnected", "timeout", "network_error", "unavailable", "internal"]);

/** WebSocket first, REST when the socket is down; the client_msg_id makes repeats harmless. */
async function deliver(item, manual = false) {
  if (item.inflight || !state.outbox.includes(item)) return;
  if (item.status === "failed" && !manual) return;
  item.inflight = true;
  item.status = "sending";
  item.error = null;
  redrawPending(item);
  const data = { chat_id: item.chat_id, content: item.content, client_msg_id: item.client_msg_id };
  try {
    let message = null;
    const conn = state.conn;
    if (conn && conn.isReady()) {
      try {
        message = (await conn.request("message", data, item.client_msg_id)).message;
      } catch (e) {
        if (!(e instanceof FrameError) || !RETRYABLE.has(e.code)) throw e;
      }
    }
    if (!message) message = await api.sendMessage(item.chat_id, item.content, item.client_msg_id);
    item.inflight = false;
    applyMessage(message);
    removeFromOutbox(item.client_msg_id);
  } catch (e) {
    item.inflight = false;
    if (!state.outbox.includes(item)) return;
    const code = e && e.code;
    if (RETRYABLE.has(code) || (e instanceof ApiError && e.status >= 500)) {
      item.status = "queued"; // sent again on the next connection
    } else {
      item.status = "failed";
      item.error = describeError(e);
    }
    saveOutbox();
    redrawPending(item);
  }
}

function flushOutbox() {
  for (const item of [...state.outbox]) if (item.status !== "failed") deliver(item);
}

function onComposerSubmit(ev) {
  ev.preventDefault();
  const input = $("message-input");
  const content = input.value;
  if (!content.trim() || state.openChatId == null) return;
  input.value = "";
  sendMessage(state.openChatId, content);
  input.focus();
}

function onComposerKeydown(ev) {
  if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    $("composer").requestSubmit();
  }
}

function onComposerInput() {
  const chatId = state.openChatId;
  if (chatId == null || !$("message-input").value.trim()) return;
  const now = Date.now();
  if (now - (state.typingSentAt.get(chatId) || 0) < TYPING_SEND_EVERY_MS) return;
  if (state.conn?.send("typing", { chat_id: chatId })) state.typingSentAt.set(chatId, now);
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

function startEdit(li) {
  const id = Number(li.dataset.messageId);
  const msg = state.convo?.messages.get(id);
  if (!msg || msg.is_deleted) return;
  li.dataset.editing = "true";
  const content = li.querySelector(".content");
  const inputId = `edit-${id}`;
  const textarea = h("textarea", { id: inputId, "data-testid": "edit-input", rows: 2, maxlength: 4096 });
  textarea.value = msg.content;
  const cancel = () => {
    delete li.dataset.editing;
    const latest = state.convo?.messages.get(id);
    if (latest) fillMessageEl(li, latest, state.chats.get(latest.chat_id), true);
    li.querySelector("[data-testid=edit-button]")?.focus();
  };
  const form = h(
    "form",
    { class: "edit-form" },
    h("label", { for: inputId, class: "visually-hidden" }, "Edit message"),
    textarea,
    h(
      "div",
      { class: "row" },
      h("button", { type: "button", class: "secondary", "data-testid": "edit-cancel", onclick: cancel }, "Cancel"),
      h("button", { type: "submit", "data-testid": "edit-save" }, "Save"),
    ),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = textarea.value;
    if (!text.trim()) return;
    if (text === msg.content) {
      cancel();
      return;
    }
    form.querySelectorAll("button, textarea").forEach((x) => (x.disabled = true));
    try {
      await changeMessage("edit_message", { message_id: id, content: text }, () => api.editMessage(id, text));
      cancel();
    } catch (e) {
      showError(`Could not edit: ${describeError(e)}`);
      form.querySelectorAll("button, textarea").forEach((x) => (x.disabled = false));
    }
  });
  textarea.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") {
      ev.preventDefault();
      cancel();
    } else if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });
  content.replaceWith(form);
  li.querySelector(".actions")?.remove();
  textarea.focus();
}

function confirmDelete(li) {
  const id = Number(li.dataset.messageId);
  const dialog = $("confirm-dialog");
  dialog.returnValue = "";
  dialog.addEventListener(
    "close",
    async () => {
      if (dialog.returnValue !== "ok") {
        li.querySelector("[data-testid=delete-button]")?.focus();
        return;
      }
      try {
        await changeMessage("delete_message", { message_id: id }, () => api.deleteMessage(id));
        $("message-input").focus();
      } catch (e) {
        showError(`Could not delete: ${describeError(e)}`);
      }
    },
    { once: true },
  );
  dialog.showModal();
}

// ---------------------------------------------------------------- read marks, receipts, typing, presence

let readTimer = null;
function scheduleMarkRead() {
  if (readTimer) return;
  readTimer = setTimeout(() => {
    readTimer = null;
    markRead();
  }, 250);
}

function markRead() {
  const convo = state.convo;
  if (!convo || !convo.loaded || !isVisible() || !state.me) return;
  const chat = state.chats.get(convo.chatId);
  let upTo = 0;
  let maxOther = 0;
  for (const m of convo.messages.values()) {
    if (m.seq > upTo) upTo = m.seq;
    if (m.sender_id !== state.me.id && m.seq > maxOther) maxOther = m.seq;
  }
  if (!upTo) return;
  const sent = state.readSent.get(convo.chatId) || 0;
  if (upTo <= sent || (maxOther <= sent && !(chat?.unread_count > 0))) return;
  state.readSent.set(convo.chatId, upTo);
  const chatId = convo.chatId;
  if (!state.conn?.send("read", { chat_id: chatId, up_to_seq: upTo })) {
    api.markRead(chatId, upTo).catch(() => {
      if ((state.readSent.get(chatId) || 0) === upTo) state.readSent.set(chatId, sent);
    });
  }
  if (chat && chat.unread_count) {
    chat.unread_count = 0;
    renderChatList();
  }
}

function applyReceipt(data) {
  const chat = state.chats.get(data.chat_id);
  const upTo = Number(data.up_to_seq) || 0;
  if (data.user_id === state.me?.id) {
    // Read on another device of ours.
    if (data.status === "read" && chat) {
      if (upTo >= (chat.last_seq || 0)) {
        chat.unread_count = 0;
        renderChatList();
      } else {
        api.getChat(chat.id).then(upsertChat).catch(() => {});
      }
    }
    return;
  }
  let perChat = state.receipts.get(data.chat_id);
  if (!perChat) {
    perChat = new Map();
    state.receipts.set(data.chat_id, perChat);
  }
  const r = perChat.get(data.user_id) || { delivered: 0, read: 0 };
  r.delivered = Math.max(r.delivered, upTo);
  if (data.status === "read") r.read = Math.max(r.read, upTo);
  perChat.set(data.user_id, r);
  refreshStatuses(data.chat_id);
}

const typingTimers = new Map();
function applyTyping(data) {
  if (!state.me || data.user_id === state.me.id) return;
  let perChat = state.typing.get(data.chat_id);
  if (!perChat) {
    perChat = new Map();
    state.typing.set(data.chat_id, perChat);
  }
  perChat.set(data.user_id, Date.now() + TYPING_SHOW_MS);
  renderTyping();
  clearTimeout(typingTimers.get(data.chat_id));
  typingTimers.set(data.chat_id, setTimeout(renderTyping, TYPING_SHOW_MS + 50));
}

function renderTyping() {
  const el = $("typing");
  const chatId = state.openChatId;
  const perChat = chatId != null ? state.typing.get(chatId) : null;
  const now = Date.now();
  const names = [];
  if (perChat) {
    for (const [userId, until] of perChat) {
      if (until > now) names.push(usernameOf(state.chats.get(chatId), userId));
      else perChat.delete(userId);
    }
  }
  el.textContent =
    names.length === 0
      ? ""
      : names.length === 1
        ? `${names[0]} is typing…`
        : names.length === 2
          ? `${names[0]} and ${names[1]} are typing…`
          : "Several people are typing…";
}

function applyPresence(data) {
  state.presence.set(data.user_id, { online: !!data.online, last_seen_at: data.last_seen_at });
  renderChatList();
  renderConversationHeader();
}

// ---------------------------------------------------------------- server events

function handleEvent(type, data) {
  switch (type) {
    case "message":
      applyMessage(data.message, { live: true });
      break;
    case "message_edited":
    case "message_deleted":
    case "message_ack":
      applyMessage(data.message);
      break;
    case "receipt":
      applyReceipt(data);
      break;
    case "chat_updated":
      if (data.chat) upsertChat(data.chat);
      else chatGone();
      break;
    case "typing":
      applyTyping(data);
      break;
    case "presence":
      applyPresence(data);
      break;
    case "error":
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
    clearTimeout(searchTimer);
    runSearch();
  });
  $("search-input").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(runSearch, 250);
  });
  $("group-form").addEventListener("submit", onCreateGroup);
  $("chats-more").addEventListener("click", () =>
    loadChats({ more: true }).catch((e) => showError(describeError(e))),
  );
  $("composer").addEventListener("submit", onComposerSubmit);
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
}

async function boot() {
  wire();
  if (!getTokens()) {
    showAuth();
    return;
  }
  try {
    await enterApp();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      sessionEnded();
      showAuth("Your session has ended. Please log in again.");
    } else {
      state.me = null;
      showAuth(`Could not reach the server: ${describeError(e)}`);
    }
  }
}

boot();
