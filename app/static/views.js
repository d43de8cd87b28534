// DOM rendering. Everything the server sends is inserted as text (textContent), never as HTML;
// the one exception, a search result's `highlight`, is rebuilt from text and <mark> only
// (highlightNodes below).
// createViews(state, actions) reads the store's state and calls back into app.js (`actions`)
// for what a click means; its own timers (the error toast, the next animation frame, typing
// expiry) live in its closure, not at module level.

import { describeError } from "./api.js";
import {
  QUICK_REACTIONS,
  canManage,
  canPin,
  chatTitle as chatTitleIn,
  createUrlCache,
  fitBox,
  formatBytes,
  isImage,
  isMuted,
  isMutedForever,
  mentionSegments,
  messagePreview,
  orderedMessages,
  otherMember,
  personName,
  roleOf,
  splitArchived,
  statusOf as statusOfIn,
  uploadPercent,
  uploadsOf,
  usernameOf as usernameIn,
} from "./store.js";
import { ttlBadge, ttlFromSelect, ttlLabel, ttlOptions } from "./scheduled.js";

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

/**
 * The server's search `highlight` (content HTML-escaped, matches in <mark>) as DOM nodes made
 * here from its text and <mark> elements only: whatever else it might hold (a server bug) is
 * reduced to its text. The template element parses without running or loading anything.
 */
export function highlightNodes(html) {
  const template = document.createElement("template");
  template.innerHTML = String(html ?? "");
  const rebuild = (from, inMark) => {
    const out = [];
    for (const node of from.childNodes) {
      if (node.nodeType === Node.TEXT_NODE) {
        out.push(document.createTextNode(node.data));
      } else if (node.nodeType === Node.ELEMENT_NODE) {
        if (node.localName === "mark" && !inMark) {
          const mark = document.createElement("mark");
          mark.append(...rebuild(node, true));
          out.push(mark);
        } else {
          out.push(...rebuild(node.localName === "template" ? node.content : node, inMark));
        }
      }
    }
    return out;
  };
  return rebuild(template.content, false);
}

const PUSH_LABELS = {
  off: "Notifications: off",
  on: "Notifications: on",
  blocked: "Notifications: blocked",
  unavailable: "Notifications: unavailable",
  busy: "Notifications: …",
};

/** The notifications control (notifications.js) in a state of push.js's PushState, with a note. */
export function renderPush(pushState, note = "") {
  const button = $("push-toggle");
  button.dataset.state = pushState;
  button.textContent = PUSH_LABELS[pushState] || PUSH_LABELS.off;
  button.setAttribute("aria-pressed", String(pushState === "on"));
  button.disabled = pushState === "busy" || pushState === "blocked";
  button.title = pushState === "on" ? "Turn notifications off" : pushState === "off" ? "Turn notifications on" : note;
  const status = $("push-status");
  status.textContent = note;
  status.title = note;
}

export function isVisible() {
  return document.visibilityState === "visible";
}

export function formError(id, err) {
  $(id).textContent = err ? (typeof err === "string" ? err : describeError(err)) : "";
}

// ---------------------------------------------------------------- image URLs

// A 1 x 1 GIF, to learn once whether this page may show blob: images.
const PROBE_GIF = "R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7";
let imageUrlKind = null;

/**
 * "blob" when the page's Content-Security-Policy lets <img> show object URLs, else "data"
 * (a policy of `img-src 'self' data:` blocks blob:). Asked once, by showing a tiny image.
 */
function imageUrlKindOnce() {
  if (!imageUrlKind) {
    imageUrlKind = new Promise((resolve) => {
      const bytes = Uint8Array.from(atob(PROBE_GIF), (c) => c.charCodeAt(0));
      const url = URL.createObjectURL(new Blob([bytes], { type: "image/gif" }));
      const img = new Image();
      const done = (kind) => {
        URL.revokeObjectURL(url);
        resolve(kind);
      };
      img.onload = () => done("blob");
      img.onerror = () => done("data");
      img.src = url;
    });
  }
  return imageUrlKind;
}

/**
 * A URL an <img> shows `blob` (bytes fetched with the token) through: an object URL, or where
 * the policy forbids those, a data: URL of the same bytes. Give it back with forgetImageUrl.
 */
export async function imageUrl(blob) {
  if ((await imageUrlKindOnce()) === "blob") return URL.createObjectURL(blob);
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

export function forgetImageUrl(url) {
  if (typeof url === "string" && url.startsWith("blob:")) URL.revokeObjectURL(url);
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
 * editMessage(id, text), deleteMessage(id) (both return promises), startReply(id),
 * toggleReaction(id, emoji), setPinned(id, pinned), openSearchResult(chatId, messageId, seq),
 * muteChat(choice), archiveChat(archived), renameChat(title), setRole(userId, role),
 * transferOwner(userId) (the last five return promises), fetchBlob(path) (a promise of the
 * Blob behind an API path that needs the token), removeUpload(key), setMessageTtl(seconds)
 * (a promise; null turns the chat's timer off), sendLaterOpen() (the composer schedules).
 */
export function createViews(state, actions) {
  let toastTimer = null;
  let chatListFrame = 0;
  let pickerFor = null; // the message id whose reaction picker is open
  const typingTimers = new Map(); // chat id -> timer that redraws when typing expires

  const meId = () => state.me?.id;
  // People are shown by display name (account.js keeps state.profiles), else by username.
  const usernameOf = (chat, userId) => usernameIn(chat, userId, meId(), state.profiles);
  const chatTitle = (chat, me) => chatTitleIn(chat, me, state.profiles);
  const memberName = (m) => personName(state.profiles.get(m.user_id), m.username);
  const statusOf = (msg, chat) => statusOfIn(msg, chat, state.receipts, meId());

  // Thumbnails shown in messages, through object URLs shared by path: an <img> that leaves the
  // DOM (its message redrawn, the chat closed) gives its URL back, and the last one revokes it.
  const thumbnails = createUrlCache({
    load: (path) => actions.fetchBlob(path),
    create: (blob) => imageUrl(blob),
    revoke: (url) => forgetImageUrl(url),
  });
  const THUMB = "img[data-thumbnail-path]";
  new MutationObserver((records) => {
    for (const r of records) {
      for (const node of r.removedNodes) {
        if (node.nodeType !== Node.ELEMENT_NODE) continue;
        const imgs = node.matches(THUMB) ? [node] : [...node.querySelectorAll(THUMB)];
        for (const img of imgs) {
          // Moved, not removed (a message put back in order): it keeps its URL.
          if (img.isConnected || img.dataset.released) continue;
          img.dataset.released = "true";
          thumbnails.release(img.dataset.thumbnailPath);
        }
      }
    }
  }).observe($("message-list"), { childList: true, subtree: true });
  let viewerUrl = null; // the full image the viewer shows

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
    $("push-toggle").hidden = true;
    $("push-status").hidden = true;
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
    $("push-toggle").hidden = false;
    $("push-status").hidden = false;
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
    $("archived-list").replaceChildren();
    $("message-search-results").replaceChildren();
    $("message-search-input").value = "";
    $("message-search-status").textContent = "";
    $("pinned-list").replaceChildren();
    $("chat-settings-body").replaceChildren();
    delete $("chat-settings-body").dataset.sig;
    pickerFor = null;
    thumbnails.clear();
    closeImage();
    $("upload-list").replaceChildren();
    $("upload-list").hidden = true;
    renderSendState();
    renderConversationHeader();
    renderReplyBar();
    renderPins();
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
      preview = who + messagePreview(last);
    }
    const other = otherMember(chat, meId());
    const online = other ? state.presence.get(other.user_id)?.online : false;
    const mentions = chat.unread_mentions || 0;
    const muted = isMuted(chat);
    return [
      h(
        "span",
        { class: "chat-title", "data-testid": "chat-item-title" },
        chatTitle(chat, meId()),
        online ? h("span", { class: "dot", role: "img", "aria-label": "online", title: "online" }) : null,
      ),
      h("time", { class: "chat-time", datetime: last?.created_at || chat.created_at }, fmtTime(last?.created_at)),
      h("span", { class: "chat-preview", "data-testid": "chat-item-preview" }, preview),
      h(
        "span",
        { class: "badges" },
        muted
          ? h("span", { class: "muted-icon", "data-testid": "muted-icon", role: "img", "aria-label": "muted", title: "Muted" }, "🔕")
          : null,
        mentions > 0
          ? h(
              "span",
              { class: "badge mention-badge", "data-testid": "mention-count", "data-count": mentions },
              h("span", { "aria-hidden": "true" }, `@${mentions}`),
              h("span", { class: "visually-hidden" }, `${mentions} unread ${mentions === 1 ? "mention" : "mentions"}`),
            )
          : null,
        unread > 0
          ? h(
              "span",
              { class: `badge${muted ? " quiet" : ""}`, "data-testid": "unread-count", "data-count": unread },
              h("span", { "aria-hidden": "true" }, String(unread)),
              h("span", { class: "visually-hidden" }, `${unread} unread`),
            )
          : null,
      ),
    ];
  }

  /**
   * Updates the lists in place, keyed by chat id: buttons under the pointer or focus survive.
   * Archived chats go to their own collapsed section.
   */
  function drawChatList() {
    const list = $("chat-list");
    const archivedList = $("archived-list");
    const { active, archived } = splitArchived(state.chats.values());
    const existing = new Map(
      [...list.children, ...archivedList.children].map((li) => [li.dataset.chatId, li]),
    );
    let totalUnread = 0;
    for (const chat of [...active, ...archived]) if (!isMuted(chat)) totalUnread += chat.unread_count || 0;
    drawChatsInto(list, active, existing);
    drawChatsInto(archivedList, archived, existing);
    for (const li of existing.values()) li.remove();
    $("chat-list-empty").hidden = active.length + archived.length > 0;
    $("archived-section").hidden = archived.length === 0;
    $("archived-count").textContent = String(archived.length);
    $("chats-more").hidden = !state.chatsCursor;
    document.title = totalUnread > 0 ? `(${totalUnread}) Messenger` : "Messenger";
  }

  function drawChatsInto(list, chats, existing) {
    chats.forEach((chat, i) => {
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
            `Chat with ${personName(u, u.username)}`,
            personName(u, u.username) !== u.username ? h("span", { class: "hint" }, ` @${u.username}`) : null,
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

  // ------------------------------------------------------------ message search

  /** results: [{message, highlight}], newest first; status: a sentence, or null to count them. */
  function renderMessageSearch(results, status = null) {
    $("message-search-results").replaceChildren(
      ...results.map(({ message, highlight }) => {
        const chat = state.chats.get(message.chat_id);
        const where = chat ? chatTitle(chat, meId()) : `Chat ${message.chat_id}`;
        return h(
          "li",
          {},
          h(
            "button",
            {
              type: "button",
              class: "secondary message-search-result",
              "data-testid": "message-search-result",
              "data-chat-id": message.chat_id,
              "data-message-id": message.id,
              onclick: () => actions.openSearchResult(message.chat_id, message.id, message.seq),
            },
            h(
              "span",
              { class: "result-meta" },
              h("span", { class: "result-chat", "data-testid": "message-search-chat" }, where),
              h("span", {}, ` · ${usernameOf(chat, message.sender_id)} · `),
              h("time", { datetime: message.created_at }, fmtTime(message.created_at)),
            ),
            h("span", { class: "result-text", "data-testid": "message-search-highlight" }, highlightNodes(highlight)),
          ),
        );
      }),
    );
    $("message-search-status").textContent =
      status ?? (results.length ? `${results.length} ${results.length === 1 ? "message" : "messages"} found` : "No messages found");
  }

  function clearMessageSearch() {
    $("message-search-results").replaceChildren();
    $("message-search-status").textContent = "";
  }

  // ------------------------------------------------------------ conversation

  function renderConversationHeader() {
    const chat = state.openChatId != null ? state.chats.get(state.openChatId) : null;
    const hasChat = state.openChatId != null;
    $("chat-title").textContent = chat ? chatTitle(chat, meId()) : hasChat ? "Loading…" : "No chat open";
    $("conversation-placeholder").hidden = hasChat;
    $("message-input").disabled = !hasChat;
    $("send-button").disabled = !hasChat;
    $("attach-button").disabled = !hasChat;
    $("schedule-toggle").disabled = !hasChat;
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
    // Each member's name opens their card (account.js, by data-person-id).
    const members = chat && chat.type === "group" ? chat.members || [] : [];
    const membersSig = JSON.stringify(members.map((m) => [m.user_id, memberName(m)]));
    if ($("chat-members").dataset.sig !== membersSig) {
      $("chat-members").dataset.sig = membersSig;
      $("chat-members").replaceChildren(
        ...members.flatMap((m, i) => [
          i ? ", " : "",
          h("button", { type: "button", class: "link person", "data-testid": "chat-member", "data-person-id": m.user_id }, memberName(m)),
        ]),
      );
    }
    actions.headerDrawn?.(chat);
    const mutedFlag = $("chat-muted");
    mutedFlag.hidden = !isMuted(chat);
    mutedFlag.textContent = !isMuted(chat)
      ? ""
      : isMutedForever(chat)
        ? "🔕 Muted"
        : `🔕 Muted until ${fmtTime(chat.muted_until)}`;
    // The disappearing-messages timer: every message sent from now on lives this long.
    const ttlFlag = $("chat-ttl");
    const badge = ttlBadge(chat);
    ttlFlag.hidden = !badge;
    if (badge) {
      ttlFlag.replaceChildren(h("span", { class: "visually-hidden" }, "Disappearing messages: "), badge);
      ttlFlag.title = `Disappearing messages: each new message is deleted ${ttlLabel(chat.message_ttl)} after it is sent`;
    } else {
      ttlFlag.replaceChildren();
      ttlFlag.removeAttribute("title");
    }
    renderChatSettings(chat);
  }

  // ------------------------------------------------------------ chat settings: mute, archive, group

  function settingsSig(chat) {
    return JSON.stringify([chat.id, chat.title, chat.muted_until, chat.archived, chat.message_ttl ?? null, meId(),
      (chat.members || []).map((m) => [m.user_id, memberName(m), m.role]), actions.moderationSig?.(chat) ?? null]);
  }

  /** The settings panel of the open chat, rebuilt only when what it shows changed. */
  function renderChatSettings(chat) {
    const panel = $("chat-settings");
    const body = $("chat-settings-body");
    if (!chat) {
      panel.hidden = true;
      panel.open = false;
      body.replaceChildren();
      delete body.dataset.sig;
      return;
    }
    panel.hidden = false;
    const sig = settingsSig(chat);
    if (body.dataset.sig === sig) return;
    body.dataset.sig = sig;
    const me = meId();
    const run = (button, work, what) => async () => {
      button.disabled = true;
      try {
        await work();
      } catch (e) {
        showError(`Could not ${what}: ${describeError(e)}`);
      } finally {
        button.disabled = false;
      }
    };
    const muted = isMuted(chat);
    const mute8 = h("button", { type: "button", class: "secondary", "data-testid": "mute-8h" }, "Mute for 8 hours");
    const muteAll = h("button", { type: "button", class: "secondary", "data-testid": "mute-forever" }, "Mute forever");
    const unmute = muted ? h("button", { type: "button", class: "secondary", "data-testid": "unmute" }, "Unmute") : null;
    mute8.addEventListener("click", run(mute8, () => actions.muteChat(8), "mute the chat"));
    muteAll.addEventListener("click", run(muteAll, () => actions.muteChat("forever"), "mute the chat"));
    unmute?.addEventListener("click", run(unmute, () => actions.muteChat(null), "unmute the chat"));
    const archive = h(
      "button",
      { type: "button", class: "secondary", "data-testid": "archive-button", "aria-pressed": chat.archived ? "true" : "false" },
      chat.archived ? "Unarchive chat" : "Archive chat",
    );
    archive.addEventListener("click", run(archive, () => actions.archiveChat(!chat.archived), "change the archive"));
    const sections = [
      h(
        "section",
        { "aria-label": "Notifications" },
        h("p", { class: "hint", "data-testid": "mute-status" },
          !muted ? "Notifications on" : isMutedForever(chat) ? "Muted" : `Muted until ${fmtTime(chat.muted_until)}`),
        h("div", { class: "row wrap" }, mute8, muteAll, unmute, archive),
      ),
    ];
    sections.push(ttlSection(chat, me));
    if (chat.type === "group") sections.push(...groupSections(chat, me, run), ...(actions.moderationSections?.(chat, me) || []));
    body.replaceChildren(...sections);
  }

  /**
   * Disappearing messages: a select of timers for who may change it (any member of a direct
   * chat, a group's owner and admins), the current timer as text for everyone else.
   */
  function ttlSection(chat, me) {
    const current = chat.message_ttl ?? null;
    const status = h("p", { class: "hint", "data-testid": "ttl-status" },
      current ? `New messages disappear ${ttlLabel(current)} after they are sent.` : "Messages stay until deleted.");
    const heading = h("h3", { class: "settings-heading" }, "Disappearing messages");
    const mayChange = chat.type === "direct" || canManage(chat, me);
    if (!mayChange) {
      return h("section", { "aria-label": "Disappearing messages" }, heading, status,
        h("p", { class: "hint" }, "Only the group's owner and admins change the timer."));
    }
    const selectId = `ttl-${chat.id}`;
    const select = h(
      "select",
      { id: selectId, "data-testid": "ttl-select" },
      ttlOptions(current).map((o) => h("option", { value: o.value == null ? "" : String(o.value), selected: o.value === current }, o.label)),
    );
    select.value = current == null ? "" : String(current);
    const error = h("p", { class: "error", role: "alert", "data-testid": "ttl-error" });
    select.addEventListener("change", async () => {
      const seconds = ttlFromSelect(select.value);
      error.textContent = "";
      select.disabled = true;
      try {
        await actions.setMessageTtl(seconds);
      } catch (e) {
        error.textContent = `Could not change the timer: ${describeError(e)}`;
        select.value = current == null ? "" : String(current);
      } finally {
        select.disabled = false;
      }
    });
    return h(
      "section",
      { "aria-label": "Disappearing messages" },
      heading,
      h("div", { class: "row" }, h("label", { for: selectId }, "Timer"), select),
      status,
      h("p", { class: "hint" }, "Applies to messages sent from now on, for everyone in the chat."),
      error,
    );
  }

  function groupSections(chat, me, run) {
    const out = [];
    if (canManage(chat, me)) {
      const inputId = `rename-${chat.id}`;
      const input = h("input", { id: inputId, "data-testid": "rename-input", maxlength: 128, required: true });
      input.value = chat.title || "";
      const save = h("button", { type: "submit", "data-testid": "rename-submit" }, "Rename");
      const form = h(
        "form",
        { class: "rename-form", novalidate: true },
        h("label", { for: inputId }, "Group name"),
        h("div", { class: "row" }, input, save),
      );
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        const title = input.value.trim();
        if (!title || title === chat.title) return;
        run(save, () => actions.renameChat(title), "rename the group")();
      });
      out.push(form);
    }
    const iAmOwner = roleOf(chat, me) === "owner";
    const ROLE = { owner: "owner", admin: "admin", member: "member" };
    const items = (chat.members || []).map((m) => {
      const buttons = [];
      if (iAmOwner && m.user_id !== me) {
        const toggle =
          m.role === "admin"
            ? h("button", { type: "button", class: "link", "data-testid": "revoke-admin", "aria-label": `Revoke admin from ${m.username}` }, "Revoke admin")
            : h("button", { type: "button", class: "link", "data-testid": "make-admin", "aria-label": `Make ${m.username} an admin` }, "Make admin");
        toggle.addEventListener(
          "click",
          run(toggle, () => actions.setRole(m.user_id, m.role === "admin" ? "member" : "admin"), "change the role"),
        );
        const owner = h("button", { type: "button", class: "link", "data-testid": "make-owner", "aria-label": `Make ${m.username} the owner` }, "Make owner");
        owner.addEventListener(
          "click",
          run(owner, async () => {
            if (await confirmAction(`Hand ownership of ${chat.title || "this group"} to ${m.username}? You become an admin.`, "Transfer")) {
              await actions.transferOwner(m.user_id);
            }
          }, "transfer ownership"),
        );
        buttons.push(toggle, owner);
      }
      return h(
        "li",
        { "data-testid": "member", "data-user-id": m.user_id, "data-role": m.role },
        m.user_id === me
          ? h("span", { class: "member-name" }, `${memberName(m)} (you)`)
          : h("button", { type: "button", class: "link member-name person", "data-person-id": m.user_id }, memberName(m)),
        h("span", { class: `role role-${m.role}`, "data-testid": "member-role" }, ROLE[m.role] || m.role),
        ...buttons,
        ...(actions.memberControls?.(chat, me, m) || []),
      );
    });
    out.push(
      h(
        "section",
        { "aria-label": "Members" },
        h("h3", { class: "settings-heading" }, "Members"),
        h("ul", { class: "member-list", "data-testid": "member-list" }, items),
      ),
    );
    return out;
  }

  // ------------------------------------------------------------ pins

  /** The open chat's pinned messages (state.pins), most recently pinned first. */
  function renderPins() {
    const bar = $("pinned-bar");
    const chatId = state.openChatId;
    const pins = chatId != null ? state.pins.get(chatId) || [] : [];
    bar.hidden = pins.length === 0;
    if (!pins.length) {
      $("pinned-list").replaceChildren();
      $("pinned-summary").textContent = "";
      return;
    }
    const chat = state.chats.get(chatId);
    const text = (m) => messagePreview(m);
    $("pinned-summary").replaceChildren(
      h("span", { "aria-hidden": "true" }, "📌 "),
      `${pins.length} pinned: `,
      h("span", { class: "pinned-latest" }, text(pins[0])),
    );
    $("pinned-list").replaceChildren(
      ...pins.map((m) =>
        h(
          "li",
          {},
          h(
            "button",
            {
              type: "button",
              class: "link pinned-item",
              "data-testid": "pinned-item",
              "data-message-id": m.id,
              onclick: () => revealMessage(m.id),
            },
            h("span", { class: "sender" }, `${usernameOf(chat, m.sender_id)}: `),
            text(m),
          ),
        ),
      ),
    );
  }

  /** Scrolls to a shown message and marks it for a moment; false when it is not shown. */
  function revealMessage(id) {
    const el = $("message-list").querySelector(`[data-message-id="${Number(id)}"]`);
    if (!el) return false;
    el.scrollIntoView({ block: "center" });
    el.classList.add("flash");
    setTimeout(() => el.classList.remove("flash"), 1600);
    return true;
  }

  // ------------------------------------------------------------ reply bar

  function renderReplyBar() {
    const bar = $("reply-bar");
    const r = state.replyTo;
    if (!r || r.chat_id !== state.openChatId) {
      bar.hidden = true;
      return;
    }
    const chat = state.chats.get(r.chat_id);
    $("reply-bar-who").textContent = `Replying to ${usernameOf(chat, r.sender_id)}:`;
    $("reply-bar-preview").textContent = r.preview || "Message deleted";
    bar.hidden = false;
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
    return JSON.stringify([msg.content, msg.edited_at, msg.is_deleted, msg.created_at, msg.expires_at || null,
      usernameOf(chat, msg.sender_id), mine ? statusOf(msg, chat) : "", msg.reply_to || null,
      msg.reactions || [], msg.mentions || [], !!msg.pinned, canPin(chat, meId()), pickerFor === msg.id,
      msg.reply_to ? usernameOf(chat, msg.reply_to.sender_id) : "",
      (msg.attachments || []).map((a) => a.id)]);
  }

  /** The quoted message above a reply: who wrote it and its first words; a click shows it. */
  /**
   * The quote's text: the server's preview is the text, "" for a deleted message and also for
   * one that carries only files; a quoted message we hold tells the two apart.
   */
  function quoteText(reply) {
    if (reply.preview) return reply.preview;
    const held = state.convo?.messages.get(reply.id);
    return held && !held.is_deleted ? messagePreview(held) || "Message deleted" : "Message deleted";
  }

  function quoteEl(reply, chat) {
    return h(
      "button",
      {
        type: "button",
        class: "quote",
        "data-testid": "reply-quote",
        "data-reply-to-id": reply.id,
        "aria-label": `In reply to ${usernameOf(chat, reply.sender_id)}: ${quoteText(reply)}`,
        onclick: () => revealMessage(reply.id),
      },
      h("span", { class: "quote-sender" }, usernameOf(chat, reply.sender_id)),
      h("span", { class: "quote-text", "data-testid": "reply-quote-text" }, quoteText(reply)),
    );
  }

  /** The text with each @mention of a member in its own span; mine stands out. */
  function contentChildren(msg, chat) {
    if (msg.is_deleted) return ["Message deleted"];
    return mentionSegments(msg, chat, meId()).map((seg) =>
      seg.userId === undefined
        ? seg.text
        : h(
            "span",
            {
              class: seg.me ? "mention mention-me" : "mention",
              "data-testid": seg.me ? "mention-me" : "mention",
              "data-user-id": seg.userId,
            },
            seg.text,
          ),
    );
  }

  function reactionsEl(msg) {
    const reactions = msg.reactions || [];
    if (!reactions.length || msg.is_deleted) return null;
    return h(
      "div",
      { class: "reactions", "data-testid": "reactions", role: "group", "aria-label": "Reactions" },
      reactions.map((r) =>
        h(
          "button",
          {
            type: "button",
            class: `reaction${r.me ? " me" : ""}`,
            "data-testid": "reaction",
            "data-emoji": r.emoji,
            "data-count": r.count,
            "aria-pressed": r.me ? "true" : "false",
            "aria-label": `${r.emoji} ${r.count}${r.me ? ", yours: click to take it back" : ", click to add yours"}`,
            onclick: () => actions.toggleReaction(msg.id, r.emoji),
          },
          h("span", { class: "emoji" }, r.emoji),
          h("span", { class: "count" }, String(r.count)),
        ),
      ),
    );
  }

  function pickerEl(msg) {
    return h(
      "div",
      { class: "picker", role: "group", "aria-label": "Pick a reaction", "data-testid": "reaction-picker" },
      QUICK_REACTIONS.map((emoji) =>
        h(
          "button",
          {
            type: "button",
            class: "link",
            "data-testid": "pick-reaction",
            "data-emoji": emoji,
            "aria-label": `React with ${emoji}`,
            onclick: () => {
              setPicker(null);
              actions.toggleReaction(msg.id, emoji);
            },
          },
          emoji,
        ),
      ),
    );
  }

  /** Opens the reaction picker of one message (null closes it); one at a time. */
  function setPicker(id) {
    const before = pickerFor;
    pickerFor = id;
    for (const mid of [before, id]) {
      if (mid == null) continue;
      const msg = state.convo?.messages.get(mid);
      const li = $("message-list").querySelector(`[data-message-id="${Number(mid)}"]`);
      if (msg && li && li.dataset.editing !== "true") {
        fillMessageEl(li, msg, state.chats.get(msg.chat_id), msg.sender_id === meId());
      }
    }
    if (id != null) $("message-list").querySelector(`[data-message-id="${Number(id)}"] [data-testid=pick-reaction]`)?.focus();
  }

  function fillMessageEl(li, msg, chat, mine) {
    li.dataset.sig = messageSig(msg, chat, mine);
    li.className = `message ${mine ? "mine" : "theirs"}${msg.is_deleted ? " deleted" : ""}${msg.pinned ? " pinned" : ""}`;
    li.dataset.deleted = msg.is_deleted ? "true" : "false";
    li.dataset.pinned = msg.pinned ? "true" : "false";
    const me = meId();
    const mentioned = !msg.is_deleted && Array.isArray(msg.mentions) && msg.mentions.includes(me);
    if (mentioned) li.dataset.mentionsMe = "true";
    else delete li.dataset.mentionsMe;
    const bubble = h(
      "div",
      { class: "bubble" },
      h(
        "div",
        { class: "meta" },
        h(
          "span",
          msg.sender_id === me
            ? { class: "sender", "data-testid": "message-sender" }
            : { class: "sender", "data-testid": "message-sender", "data-person-id": msg.sender_id, role: "button", tabindex: 0 },
          usernameOf(chat, msg.sender_id),
        ),
        h("time", { datetime: msg.created_at, title: new Date(msg.created_at).toLocaleString() }, fmtTime(msg.created_at)),
        msg.pinned
          ? h("span", { class: "pin-mark", "data-testid": "pinned-mark", role: "img", "aria-label": "Pinned", title: "Pinned" }, "📌")
          : null,
        msg.expires_at && !msg.is_deleted ? expiryMark(msg.expires_at) : null,
      ),
      msg.reply_to && !msg.is_deleted ? quoteEl(msg.reply_to, chat) : null,
      h("p", { class: `content${!msg.content && !msg.is_deleted ? " empty" : ""}`, "data-testid": "message-content" }, contentChildren(msg, chat)),
      msg.is_deleted ? null : attachmentsEl(msg.attachments),
      h(
        "div",
        { class: "footer" },
        msg.edited_at && !msg.is_deleted ? h("span", { class: "edited", "data-testid": "message-edited" }, "edited") : null,
        mine ? statusEl(statusOf(msg, chat)) : null,
      ),
    );
    const buttons = [];
    if (!msg.is_deleted) {
      const who = usernameOf(chat, msg.sender_id);
      buttons.push(
        h("button", { type: "button", class: "link", "data-testid": "reply-button", "aria-label": `Reply to ${who}`, onclick: () => actions.startReply(msg.id) }, "Reply"),
        h(
          "button",
          {
            type: "button",
            class: "link",
            "data-testid": "react-button",
            "aria-label": "Add a reaction",
            "aria-expanded": pickerFor === msg.id ? "true" : "false",
            onclick: () => setPicker(pickerFor === msg.id ? null : msg.id),
          },
          "React",
        ),
      );
      if (canPin(chat, me)) {
        buttons.push(
          msg.pinned
            ? h("button", { type: "button", class: "link", "data-testid": "unpin-button", "aria-label": "Unpin message", onclick: () => actions.setPinned(msg.id, false) }, "Unpin")
            : h("button", { type: "button", class: "link", "data-testid": "pin-button", "aria-label": "Pin message", onclick: () => actions.setPinned(msg.id, true) }, "Pin"),
        );
      }
      if (!mine && msg.id != null) {
        buttons.push(
          h("button", { type: "button", class: "link", "data-testid": "report-button", "aria-label": `Report message from ${who}`, onclick: () => actions.reportMessage?.(msg) }, "Report"),
        );
      }
      if (mine) {
        buttons.push(
          h("button", { type: "button", class: "link", "data-testid": "edit-button", "aria-label": "Edit message", onclick: () => startEdit(li) }, "Edit"),
          h("button", { type: "button", class: "link", "data-testid": "delete-button", "aria-label": "Delete message", onclick: () => confirmDelete(li) }, "Delete"),
        );
      }
    }
    const picker = pickerFor === msg.id && !msg.is_deleted ? pickerEl(msg) : null;
    if (picker) {
      picker.addEventListener("keydown", (ev) => {
        if (ev.key === "Escape") {
          ev.preventDefault();
          setPicker(null);
          li.querySelector("[data-testid=react-button]")?.focus();
        }
      });
    }
    li.replaceChildren(
      bubble,
      ...[reactionsEl(msg), picker, buttons.length ? h("div", { class: "actions" }, buttons) : null].filter(Boolean),
    );
  }

  /** The small timer on a message that disappears: when, in its title and label. */
  function expiryMark(expiresAt) {
    const at = new Date(expiresAt);
    const label = Number.isNaN(at.getTime()) ? "Disappears soon" : `Disappears at ${at.toLocaleString()}`;
    return h("span", { class: "expiry-mark", "data-testid": "expiry-mark", "data-expires-at": expiresAt, role: "img", "aria-label": label, title: label }, "⏱");
  }

  /** Every shown message drawn again where what it shows changed (roles, names, pins). */
  function refreshMessages() {
    const convo = state.convo;
    if (!convo) return;
    for (const el of $("message-list").querySelectorAll("[data-message-id]")) {
      const msg = convo.messages.get(Number(el.dataset.messageId));
      if (msg) upsertMessageEl(msg);
    }
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
        item.reply_to ? quoteEl(item.reply_to, state.chats.get(item.chat_id)) : null,
        h("p", { class: `content${item.content ? "" : " empty"}`, "data-testid": "message-content" }, item.content),
        item.attachments?.length
          ? h(
              "ul",
              { class: "pending-files", "data-testid": "pending-files" },
              item.attachments.map((a) => h("li", {}, `📎 ${a.name} (${formatBytes(a.size)})`)),
            )
          : null,
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

  /** The confirm dialog with this question; resolves true when the person confirms. */
  function confirmAction(text, okLabel) {
    const dialog = $("confirm-dialog");
    $("confirm-text").textContent = text;
    $("confirm-ok").textContent = okLabel;
    dialog.returnValue = "";
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
      dialog.showModal();
    });
  }

  async function confirmDelete(li) {
    const id = Number(li.dataset.messageId);
    if (!(await confirmAction("Delete this message for everyone?", "Delete"))) {
      li.querySelector("[data-testid=delete-button]")?.focus();
      return;
    }
    try {
      await actions.deleteMessage(id);
      $("message-input").focus();
    } catch (e) {
      showError(`Could not delete: ${describeError(e)}`);
    }
  }

  // ------------------------------------------------------------ attachments in messages

  /** A message's files: images as thumbnails that open the full image, the rest as downloads. */
  function attachmentsEl(attachments) {
    if (!Array.isArray(attachments) || !attachments.length) return null;
    return h(
      "div",
      { class: "attachments", "data-testid": "attachments" },
      attachments.map((att) => (isImage(att) ? imageEl(att) : fileEl(att))),
    );
  }

  function imageEl(att) {
    const box = fitBox(att.width, att.height, 240);
    const img = h("img", {
      alt: att.name,
      "data-testid": "attachment-thumb",
      "data-thumbnail-path": att.thumbnail_url,
      width: box?.width,
      height: box?.height,
      decoding: "async",
    });
    thumbnails.acquire(att.thumbnail_url).then(
      (url) => {
        if (!img.dataset.released) img.src = url;
      },
      () => {
        img.dataset.released = "true"; // the cache forgot a failed load: nothing to give back
        img.closest(".attachment-image")?.classList.add("broken");
        img.alt = `${att.name} (the preview could not be loaded)`;
      },
    );
    return h(
      "button",
      {
        type: "button",
        class: "attachment-image",
        "data-testid": "attachment-image",
        "data-attachment-id": att.id,
        "aria-label": `Open the image ${att.name}`,
        title: att.name,
        onclick: () => openImage(att),
      },
      img,
    );
  }

  function fileEl(att) {
    const button = h(
      "button",
      {
        type: "button",
        class: "attachment-file",
        "data-testid": "attachment-file",
        "data-attachment-id": att.id,
        "aria-label": `Download ${att.name}, ${formatBytes(att.size)}`,
      },
      h("span", { class: "file-icon", "aria-hidden": "true" }, "📎"),
      h("span", { class: "file-name", "data-testid": "attachment-name" }, att.name),
      h("span", { class: "file-size hint" }, formatBytes(att.size)),
    );
    button.addEventListener("click", async () => {
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      try {
        await downloadAttachment(att);
      } catch (e) {
        showError(`Could not download ${att.name}: ${describeError(e)}`);
      } finally {
        button.disabled = false;
        button.removeAttribute("aria-busy");
      }
    });
    return button;
  }

  /** Fetches the file with the token and hands it to the browser's downloads under its name. */
  async function downloadAttachment(att) {
    const url = URL.createObjectURL(await actions.fetchBlob(att.url));
    const a = h("a", { href: url, download: att.name || "file", hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    // The download has taken the bytes by then; the URL only holds memory.
    setTimeout(() => URL.revokeObjectURL(url), 30_000);
  }

  /** The full image in the viewer dialog, fetched with the token like the thumbnails. */
  async function openImage(att) {
    const dialog = $("image-viewer");
    const img = $("image-viewer-img");
    releaseViewer();
    $("image-viewer-name").textContent = att.name;
    $("image-viewer-status").textContent = "Loading…";
    img.alt = att.name;
    img.removeAttribute("src");
    const box = fitBox(att.width, att.height, 100_000);
    if (box) {
      img.width = box.width;
      img.height = box.height;
    }
    $("image-viewer-download").onclick = () =>
      downloadAttachment(att).catch((e) => showError(`Could not download ${att.name}: ${describeError(e)}`));
    dialog.dataset.attachmentId = String(att.id);
    dialog.showModal();
    try {
      const url = await imageUrl(await actions.fetchBlob(att.url));
      if (!dialog.open || dialog.dataset.attachmentId !== String(att.id)) {
        forgetImageUrl(url);
        return;
      }
      viewerUrl = url;
      img.src = url;
      $("image-viewer-status").textContent = "";
    } catch (e) {
      $("image-viewer-status").textContent = `Could not load the image: ${describeError(e)}`;
    }
  }

  /** The viewer gives its image back: the object URL is revoked. */
  function releaseViewer() {
    delete $("image-viewer").dataset.attachmentId;
    $("image-viewer-img").removeAttribute("src");
    if (viewerUrl) forgetImageUrl(viewerUrl);
    viewerUrl = null;
  }

  function closeImage() {
    const dialog = $("image-viewer");
    if (dialog.open) dialog.close(); // its close event releases the image
    else releaseViewer();
  }
  $("image-viewer").addEventListener("close", releaseViewer);

  // ------------------------------------------------------------ the composer's uploads

  function uploadChip(up) {
    const nameId = `upload-name-${up.key}`;
    return h(
      "li",
      { class: "upload-chip", "data-testid": "upload-chip", "data-upload-key": up.key, "aria-labelledby": nameId },
      h("span", { class: "upload-name", id: nameId, "data-testid": "upload-name", title: up.name }, up.name),
      h("span", { class: "upload-size hint", "data-testid": "upload-size" }, formatBytes(up.size)),
      h("progress", { class: "upload-progress", "data-testid": "upload-progress", max: 100, "aria-labelledby": nameId }),
      h("span", { class: "upload-state hint", "data-testid": "upload-state" }),
      h("span", { class: "upload-error error", "data-testid": "upload-error", role: "alert" }),
      h(
        "button",
        {
          type: "button",
          class: "link upload-remove",
          "data-testid": "upload-remove",
          "aria-label": `Remove ${up.name}`,
          onclick: () => actions.removeUpload(up.key),
        },
        "✕",
      ),
    );
  }

  /** Updates one chip in place: its bar, its state, its error. */
  function renderUploadProgress(up) {
    const li = $("upload-list").querySelector(`[data-upload-key="${CSS.escape(up.key)}"]`);
    if (!li) return;
    const pct = uploadPercent(up);
    li.dataset.status = up.status;
    const bar = li.querySelector("progress");
    bar.value = pct;
    bar.hidden = up.status === "failed";
    li.querySelector("[data-testid=upload-size]").textContent = formatBytes(up.size);
    li.querySelector("[data-testid=upload-state]").textContent =
      up.status === "done" ? "Ready" : up.status === "failed" ? "" : pct >= 99 ? "Processing…" : `${pct} %`;
    li.querySelector("[data-testid=upload-error]").textContent = up.error || "";
  }

  /** The open chat's chips, keyed by upload: existing ones stay (and keep focus). */
  function renderUploads() {
    const list = $("upload-list");
    const ups = state.openChatId != null ? uploadsOf(state.uploads, state.openChatId) : [];
    const existing = new Map([...list.children].map((li) => [li.dataset.uploadKey, li]));
    ups.forEach((up, i) => {
      let li = existing.get(up.key);
      if (li) existing.delete(up.key);
      else li = uploadChip(up);
      if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
      renderUploadProgress(up);
    });
    for (const li of existing.values()) li.remove();
    list.hidden = ups.length === 0;
    renderSendState();
  }

  /** The send button says when a send waits for uploads. */
  function renderSendState() {
    const button = $("send-button");
    const waiting = state.sendWaiting != null && state.sendWaiting === state.openChatId;
    const later = !waiting && !!actions.sendLaterOpen?.();
    button.textContent = waiting ? "Sending after upload…" : later ? "Schedule" : "Send";
    button.dataset.mode = later ? "schedule" : "send";
    button.dataset.state = waiting ? "waiting" : "ready";
    if (waiting) button.setAttribute("aria-busy", "true");
    else button.removeAttribute("aria-busy");
  }

  /** Shows that files dropped here will be attached. */
  function setDropTarget(on) {
    $("conversation").classList.toggle("drop-target", on);
    $("drop-hint").hidden = !on;
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
    confirmAction,
    showError,
    announce,
    setConnectionStatus,
    showAuth,
    showApp,
    clearSession,
    renderChatList,
    renderSearchResults,
    clearSearch,
    renderMessageSearch,
    clearMessageSearch,
    renderPins,
    renderReplyBar,
    revealMessage,
    refreshMessages,
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
    renderUploads,
    renderUploadProgress,
    renderSendState,
    setDropTarget,
    closeImage,
  };
}
