// Web Push rules shared by the page (notifications.js) and the service worker (sw.js): no DOM,
// no network, so `node --test tests/web/` runs them. Contract: API.md, Push notifications; the
// payload is what app/services/push.py's Notification.webpush_payload sends:
// {type: "message", chat_id, message_id, inbox_seq, count, badge, mention,
//  sender?: {id, name}, chat_title?, body?}  (no sender, chat_title or body when PUSH_PREVIEW=false)

/**
 * The worker's script and scope. The app serves app/static/ under /static/ and a worker's scope
 * cannot be wider than its script's folder without a `Service-Worker-Allowed` header, so the
 * scope is /static/. That is enough: showing a notification, clients.matchAll({type: "window",
 * includeUncontrolled: true}) (every window of the origin, in scope or not) and
 * clients.openWindow("/?chat=ID") do not need the page to be controlled.
 */
export const SW_URL = "/static/sw.js";
export const SW_SCOPE = "/static/";

/** The worker's message to a page: open this chat. */
export const OPEN_CHAT = "open_chat";

/** The control's states. */
export const PushState = Object.freeze({
  OFF: "off",
  ON: "on",
  BLOCKED: "blocked", // the browser (or the person, through it) denied notifications
  UNAVAILABLE: "unavailable", // no service worker or PushManager here, or the server has no VAPID key (503)
  BUSY: "busy",
});

/** URL-safe base64 (padding optional) to bytes: the VAPID key for `applicationServerKey`. */
export function base64UrlToBytes(text) {
  const clean = String(text).trim().replace(/=+$/, "");
  if (!/^[A-Za-z0-9_-]*$/.test(clean) || clean.length % 4 === 1) throw new Error("Not URL-safe base64.");
  const b64 = clean.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (clean.length % 4)) % 4);
  const raw = atob(b64);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

/** Bytes (ArrayBuffer or a typed array) to URL-safe base64 without padding. */
export function bytesToBase64Url(bytes) {
  const view = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let raw = "";
  for (const b of view) raw += String.fromCharCode(b);
  return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Whether a subscription was made for this VAPID key (a key rotated on the server needs a new one). */
export function sameKey(applicationServerKey, vapidKey) {
  if (!applicationServerKey) return true; // the browser does not tell: keep it
  return bytesToBase64Url(applicationServerKey) === String(vapidKey).replace(/=+$/, "");
}

/**
 * The body of POST /push/subscriptions for a browser subscription: `subscription` is
 * PushSubscription.toJSON() ({endpoint, keys: {p256dh, auth}}), `deviceId` the id this browser
 * profile uses on /ws, so the server reads that device's cursor before pushing.
 */
export function subscriptionBody(subscription, deviceId) {
  const { endpoint, keys } = subscription || {};
  if (!endpoint || !keys || !keys.p256dh || !keys.auth) throw new Error("The browser gave an incomplete push subscription.");
  if (!deviceId) throw new Error("No device id.");
  return { device_id: String(deviceId), kind: "webpush", endpoint, keys: { p256dh: keys.p256dh, auth: keys.auth } };
}

/** Where a notification's click leads when no window of the app is open. */
export function chatUrl(chatId) {
  return `/?chat=${encodeURIComponent(chatId)}`;
}

/** The chat id in a page's query (`?chat=12`), or null. */
export function chatIdFromSearch(search) {
  const value = new URLSearchParams(search || "").get("chat");
  return value && /^[1-9][0-9]{0,17}$/.test(value) ? Number(value) : null;
}

/** The chat id a worker's message asks a page to open, or null for any other message. */
export function openChatRequest(data) {
  if (!data || data.type !== OPEN_CHAT) return null;
  const id = Number(data.chat_id);
  return Number.isSafeInteger(id) && id > 0 ? id : null;
}

/**
 * What the worker shows for a push payload: {title, options} for showNotification. One
 * notification per chat (tag `chat-ID`, renotify so the newer one still alerts); the sender
 * and the preview when the server sends them, a generic text when it does not
 * (PUSH_PREVIEW=false), a payload that is not JSON or not a message included.
 */
export function notificationFor(payload) {
  const p = payload && typeof payload === "object" ? payload : {};
  const chatId = Number(p.chat_id);
  const hasChat = Number.isSafeInteger(chatId) && chatId > 0;
  const count = Math.max(1, Number.isFinite(Number(p.count)) ? Math.floor(Number(p.count)) : 1);
  const badge = Number.isFinite(Number(p.badge)) && Number(p.badge) >= 0 ? Math.floor(Number(p.badge)) : null;
  const sender = p.sender && typeof p.sender.name === "string" && p.sender.name ? p.sender.name : null;
  const chatTitle = typeof p.chat_title === "string" && p.chat_title ? p.chat_title : null;
  const preview = typeof p.body === "string" && p.body ? p.body : null;
  const more = count > 1 ? ` (+${count - 1} more)` : "";

  let title;
  let body;
  if (sender) {
    title = chatTitle ? `${sender} in ${chatTitle}` : sender;
    body = (preview ?? (p.mention ? "Mentioned you" : "Sent a message")) + more;
  } else {
    title = p.mention ? "You were mentioned" : "New message";
    body = count > 1 ? `${count} new messages` : "You have a new message";
  }
  const options = {
    body,
    tag: hasChat ? `chat-${chatId}` : "messenger",
    renotify: true,
    data: {
      chat_id: hasChat ? chatId : null,
      message_id: p.message_id ?? null,
      url: hasChat ? chatUrl(chatId) : "/",
      badge,
    },
  };
  return { title, options, badge };
}

/** The push event's data as an object: JSON, or null for text that is not (still shown, generically). */
export function parsePayload(text) {
  try {
    const value = JSON.parse(text);
    return value && typeof value === "object" ? value : null;
  } catch {
    return null;
  }
}
