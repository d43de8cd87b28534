// DOM rendering. Everything the server sends is inserted as text (textContent), never as HTML.
// createViews(state, actions) reads the store's state and calls back into app.js (`actions`)
// for what a click means; its own timers (the error toast, the next animation frame, typing
// expiry) live in its closure, not at module level.

import { describeError } from "./api.js";
import {
  chatTitle,
  orderedMessages,
  otherMember,
  sortChats,
  statusOf as statusOfIn,
  usernameOf as usernameIn,
} from "./store.js";

export const $ = (id) => document.getElementById(id);

export function h(tag, attrs = {}, ...children) {
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

export function fmtTime(iso) {
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

export function isVisible() {
  return document.visibilityState === "visible";
}

export function formError(id, err) {
  $(id).textContent = err ? (typeof err === "string" ? err : describeError(err)) : "";
}

const NEAR_BOTTOM_PX = 80;
const TYPING_SHOW_MS = 5000;

const STATUS_TEXT = {
  sending: ["…", "Sending"],
  queued: ["…", "Waiting for the connection"],
  sent: ["•", "Sent"],
  delivered: ["✓", "Delivered"],
  read: ["✓✓", "Read"],
  failed: ["!", "Not sent"],
};

const CONNECTION_LABELS = {
  connecting: "Connecting…",
  online: "Online",
  reconnecting: "Reconnecting…",
  offline: "Offline",
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

/**
 * actions: openChat(id), startDirect(user), retry(item), discard(clientMsgId),
 * editMessage(id, text), deleteMessage(id) (both return promises).
 */
export function createViews(state, actions) {
  let toastTimer = null;
  let chatListFrame = 0;
  const typingTimers = new Map(); // chat id -> timer that redraws when typing expires

  const meId = () => state.me?.id;
  const usernameOf = (chat, userId) => usernameIn(chat, userId, meId());
  const statusOf = (msg, chat) => statusOfIn(msg, chat, state.receipts, meId());

  // ------------------------------------------------------------ notices and screens

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

  function setConnectionStatus(status, detail) {
    const el = $("connection-status");
    el.dataset.state = status;
    el.textContent = CONNECTION_LABELS[status] || status;
    if (status === "reconnecting" && detail && detail.delay) {
      el.title = `Next attempt in ${(detail.delay / 1000).toFixed(1)} s`;
    } else {
      el.removeAttribute("title");
    }
  }

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

  /** The DOM side of a teardown: empty lists and inputs, stop the view's timers. */
  function clearSession() {
    for (const t of typingTimers.values()) clearTimeout(t);
    typingTimers.clear();
    $("chat-list").replaceChildren();
    $("message-list").replaceChildren();
    $("search-results").replaceChildren();
    $("search-input").value = "";
    $("message-input").value = "";
    renderConversationHeader();
  }

  // ------------------------------------------------------------ chat list

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
        last.sender_id === meId()
          ? "You: "
          : chat.type === "group"
            ? `${usernameOf(chat, last.sender_id)}: `
            : "";
      preview = who + (last.is_deleted ? "Message deleted" : last.content);
    }
    const other = otherMember(chat, meId());
    const online = other ? state.presence.get(other.user_id)?.online : false;
    return [
      h(
        "span",
        { class: "chat-title", "data-testid": "chat-item-title" },
        chatTitle(chat, meId()),
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
    const chats = sortChats(state.chats.values());
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
            onclick: () => actions.openChat(chat.id),
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

  // ------------------------------------------------------------ people search

  function renderSearchResults(people) {
    $("search-results").replaceChildren(
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
              onclick: () => actions.startDirect(u),
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
  }

  function clearSearch() {
    $("search-results").replaceChildren();
    $("search-input").value = "";
    $("search-status").textContent = "";
  }

  // ------------------------------------------------------------ conversation

  function renderConversationHeader() {
    const chat = state.openChatId != null ? state.chats.get(state.openChatId) : null;
    const hasChat = state.openChatId != null;
    $("chat-title").textContent = chat ? chatTitle(chat, meId()) : hasChat ? "Loading…" : "No chat open";
    $("conversation-placeholder").hidden = hasChat;
    $("message-input").disabled = !hasChat;
    $("send-button").disabled = !hasChat;
    const presence = $("presence");
    const other = otherMember(chat, meId());
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
    list.append(...orderedMessages(convo).map(messageEl));
    for (const item of state.outbox) if (item.chat_id === convo.chatId) list.append(pendingEl(item));
    $("load-older").hidden = !convo.hasMore;
    if (stickToBottom) scrollToBottom();
  }

  function messageEl(msg) {
    const chat = state.chats.get(msg.chat_id);
    const mine = msg.sender_id === meId();
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
    const actionsEl =
      mine && !msg.is_deleted
        ? h(
            "div",
            { class: "actions" },
            h("button", { type: "button", class: "link", "data-testid": "edit-button", "aria-label": "Edit message", onclick: () => startEdit(li) }, "Edit"),
            h("button", { type: "button", class: "link", "data-testid": "delete-button", "aria-label": "Delete message", onclick: () => confirmDelete(li) }, "Delete"),
          )
        : null;
    li.replaceChildren(bubble, ...(actionsEl ? [actionsEl] : []));
  }

  function upsertMessageEl(msg) {
    const list = $("message-list");
    const existing = list.querySelector(`[data-message-id="${msg.id}"]`);
    const chat = state.chats.get(msg.chat_id);
    const mine = msg.sender_id === meId();
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

  function clearMessages() {
    $("message-list").replaceChildren();
  }

  // ------------------------------------------------------------ outbox

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
            h("button", { type: "button", class: "link", "data-testid": "retry-button", onclick: () => actions.retry(item) }, "Retry"),
            h("button", { type: "button", class: "link", "data-testid": "discard-button", onclick: () => actions.discard(item.client_msg_id) }, "Discard"),
          )
        : null,
    );
  }

  function findPendingEl(clientMsgId) {
    return document.querySelector(`[data-client-msg-id="${CSS.escape(clientMsgId)}"][data-pending="true"]`);
  }

  function removePending(clientMsgId) {
    findPendingEl(clientMsgId)?.remove();
  }

  function redrawPending(item) {
    const el = findPendingEl(item.client_msg_id);
    if (el) el.replaceWith(pendingEl(item));
    else if (state.convo?.chatId === item.chat_id && state.outbox.includes(item)) $("message-list").append(pendingEl(item));
  }

  function appendPending(item) {
    $("message-list").append(pendingEl(item));
    scrollToBottom();
  }

  // ------------------------------------------------------------ edit and delete

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
        await actions.editMessage(id, text);
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
          await actions.deleteMessage(id);
          $("message-input").focus();
        } catch (e) {
          showError(`Could not delete: ${describeError(e)}`);
        }
      },
      { once: true },
    );
    dialog.showModal();
  }

  // ------------------------------------------------------------ typing

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

  /** Shows a typing notice now and takes it away when it expires. */
  function showTyping(chatId) {
    renderTyping();
    clearTimeout(typingTimers.get(chatId));
    typingTimers.set(chatId, setTimeout(renderTyping, TYPING_SHOW_MS + 50));
  }

  return {
    TYPING_SHOW_MS,
    showError,
    announce,
    setConnectionStatus,
    showAuth,
    showApp,
    clearSession,
    renderChatList,
    renderSearchResults,
    clearSearch,
    renderConversationHeader,
    isNearBottom,
    scrollToBottom,
    drawMessages,
    upsertMessageEl,
    refreshStatuses,
    clearMessages,
    removePending,
    redrawPending,
    appendPending,
    renderTyping,
    showTyping,
  };
}
