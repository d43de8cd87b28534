// REST client for Messenger Core: JSON in and out, bearer tokens kept in localStorage,
// one refresh (POST /auth/refresh) when a request answers 401, and the API's error shape
// turned into ApiError. No framework, no build step.

const TOKENS_KEY = "messenger.tokens";

/** An answer outside 2xx, in the contract's shape {error: {code, message, details}}. */
export class ApiError extends Error {
  constructor(status, code, message, details = null, retryAfter = null) {
    super(message || code || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status; // 0 when the network failed before any answer
    this.code = code;
    this.details = details;
    this.retryAfter = retryAfter;
  }
}

export function getTokens() {
  try {
    const raw = localStorage.getItem(TOKENS_KEY);
    const tokens = raw ? JSON.parse(raw) : null;
    return tokens && tokens.access_token ? tokens : null;
  } catch {
    return null;
  }
}

export function setTokens(tokens) {
  localStorage.setItem(
    TOKENS_KEY,
    JSON.stringify({ access_token: tokens.access_token, refresh_token: tokens.refresh_token }),
  );
}

export function clearTokens() {
  localStorage.removeItem(TOKENS_KEY);
}

/** A UUID even where crypto.randomUUID is missing (it needs a secure context). */
export function uuid() {
  if (globalThis.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

let onUnauthorized = () => {};

/** Called once the session is gone for good (refresh refused): the app shows the login form. */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

async function parseError(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const err = body && body.error ? body.error : {};
  const retryAfter = Number(response.headers.get("Retry-After")) || null;
  return new ApiError(
    response.status,
    err.code || `http_${response.status}`,
    err.message || response.statusText || `HTTP ${response.status}`,
    err.details ?? null,
    retryAfter,
  );
}

async function rawFetch(method, path, body, accessToken) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (accessToken) headers.Authorization = `Bearer ${accessToken}`;
  try {
    return await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch (e) {
    throw new ApiError(0, "network_error", "The server cannot be reached.", String(e));
  }
}

// One refresh at a time: in this tab through a shared promise, across tabs of the same
// browser through the Web Locks API where present (a refresh token is spent on use, and
// presenting a spent one revokes the whole session).
let refreshing = null;

async function doRefresh(staleAccessToken) {
  const current = getTokens();
  // Another tab or an earlier call already refreshed: use its tokens.
  if (current && current.access_token !== staleAccessToken) return true;
  if (!current || !current.refresh_token) return false;
  const response = await rawFetch("POST", "/auth/refresh", { refresh_token: current.refresh_token });
  if (response.ok) {
    setTokens(await response.json());
    return true;
  }
  if (response.status === 401 || response.status === 422) {
    clearTokens();
    return false;
  }
  throw await parseError(response);
}

/** Exchanges the refresh token for new tokens; false when the session is over. */
export function refreshTokens(staleAccessToken = getTokens()?.access_token) {
  if (!refreshing) {
    const run = () => doRefresh(staleAccessToken);
    const locked =
      typeof navigator !== "undefined" && navigator.locks
        ? navigator.locks.request("messenger-token-refresh", run)
        : run();
    refreshing = locked.finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

/**
 * Runs `call(accessToken)` (a fetch, or an upload answered as a Response) with the session's
 * token. A 401 refreshes the tokens once and repeats the call; a second 401 ends the session.
 */
async function withToken(call) {
  let tokens = getTokens();
  if (!tokens) {
    onUnauthorized();
    throw new ApiError(401, "unauthorized", "Not logged in.");
  }
  let response = await call(tokens.access_token);
  if (response.status === 401) {
    const ok = await refreshTokens(tokens.access_token);
    if (!ok) {
      onUnauthorized();
      throw await parseError(response);
    }
    tokens = getTokens();
    response = await call(tokens && tokens.access_token);
    if (response.status === 401) {
      clearTokens();
      onUnauthorized();
    }
  }
  return response;
}

async function jsonOf(response) {
  if (!response.ok) throw await parseError(response);
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

/**
 * One REST call. `auth: false` for the routes that need no token. A 401 on an authenticated
 * call refreshes the tokens once and repeats the call; a second 401 ends the session.
 */
export async function request(method, path, body, { auth = true } = {}) {
  const response = auth
    ? await withToken((token) => rawFetch(method, path, body, token))
    : await rawFetch(method, path, body, null);
  return jsonOf(response);
}

/** As request(), with the answer's status: {status, body} (201 made, 200 an earlier one). */
export async function requestWithStatus(method, path, body) {
  const response = await withToken((token) => rawFetch(method, path, body, token));
  return { status: response.status, body: await jsonOf(response) };
}

/**
 * The bytes behind an API path that needs the token (an attachment, its thumbnail), as a Blob.
 * <img src> and <a href> cannot send the Authorization header, so the page fetches the bytes
 * itself and shows them through an object URL. With S3 storage the answer is a redirect to a
 * presigned URL, which fetch follows (the bucket must then allow this origin by CORS).
 */
export async function fetchBlob(path) {
  const response = await withToken(async (token) => {
    try {
      return await fetch(path, {
        headers: { Authorization: `Bearer ${token}` },
        credentials: "omit",
      });
    } catch (e) {
      throw new ApiError(0, "network_error", "The server cannot be reached.", String(e));
    }
  });
  if (!response.ok) throw await parseError(response);
  return response.blob();
}

/** One POST of `file` as the raw body through XMLHttpRequest (fetch reports no upload progress). */
function xhrUpload(path, file, token, onProgress, current) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    current.xhr = xhr;
    xhr.open("POST", path);
    xhr.setRequestHeader("Accept", "application/json");
    if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    xhr.upload.addEventListener("progress", (ev) => {
      onProgress(ev.loaded, ev.lengthComputable ? ev.total : file.size);
    });
    xhr.addEventListener("load", () => {
      const headers = new Headers({ "Content-Type": xhr.getResponseHeader("Content-Type") || "application/json" });
      const retryAfter = xhr.getResponseHeader("Retry-After");
      if (retryAfter) headers.set("Retry-After", retryAfter);
      const noBody = [204, 205, 304].includes(xhr.status) || !xhr.responseText;
      // The answer as a fetch Response, so the error shape and the 401 refresh are shared.
      resolve(new Response(noBody ? null : xhr.responseText, { status: xhr.status, statusText: xhr.statusText, headers }));
    });
    xhr.addEventListener("error", () =>
      reject(new ApiError(0, "network_error", "The upload was cut off: the server cannot be reached.")),
    );
    xhr.addEventListener("abort", () => reject(new ApiError(0, "aborted", "The upload was cancelled.")));
    xhr.send(file);
  });
}

/**
 * Uploads a File (POST /attachments?name=) and reports `onProgress(loadedBytes, totalBytes)`
 * as its bytes go out. Returns {promise, abort}: the promise resolves to the Attachment or
 * rejects with an ApiError (413 payload_too_large, 422 for an image the server refuses, ...).
 */
export function uploadAttachment(file, onProgress = () => {}) {
  const current = { xhr: null, aborted: false };
  const path = `/attachments${query({ name: file.name })}`;
  const promise = (async () => {
    const response = await withToken((token) => {
      if (current.aborted) throw new ApiError(0, "aborted", "The upload was cancelled.");
      return xhrUpload(path, file, token, onProgress, current);
    });
    return jsonOf(response);
  })();
  return {
    promise,
    abort() {
      current.aborted = true;
      if (current.xhr) current.xhr.abort();
    },
  };
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

/**
 * GET of a route that answers 202 (still working) or 200 (done): {status, body}, where body
 * is the parsed JSON of a 202 and the raw text of a 200 (an export archive, kept as given).
 */
export async function poll(path) {
  const response = await withToken((token) => rawFetch("GET", path, undefined, token));
  if (!response.ok) throw await parseError(response);
  const text = await response.text();
  if (response.status === 202) return { status: 202, body: text ? JSON.parse(text) : null };
  return { status: response.status, body: text };
}

// The contract's REST routes, one function each.
export const api = {
  register: (username, email, password) =>
    request("POST", "/auth/register", { username, email, password }, { auth: false }),
  async login(username, password) {
    const tokens = await request("POST", "/auth/login", { username, password }, { auth: false });
    setTokens(tokens);
    return tokens;
  },
  async logout() {
    const tokens = getTokens();
    try {
      if (tokens) {
        await rawFetch("POST", "/auth/logout", { refresh_token: tokens.refresh_token }, tokens.access_token);
      }
    } finally {
      clearTokens();
    }
  },
  wsTicket: () => request("POST", "/auth/ws-ticket"),
  me: () => request("GET", "/users/me"),
  user: (id) => request("GET", `/users/${encodeURIComponent(id)}`),
  searchUsers: (q, cursor) => request("GET", `/chats/search${query({ q, cursor, limit: 20 })}`),
  listChats: (cursor) => request("GET", `/chats${query({ cursor, limit: 50 })}`),
  getChat: (id) => request("GET", `/chats/${encodeURIComponent(id)}`),
  createDirect: (userId) => request("POST", "/chats", { type: "direct", member_ids: [userId] }),
  createGroup: (title, memberIds) =>
    request("POST", "/chats", { type: "group", title, member_ids: memberIds }),
  messages: (chatId, { beforeSeq, afterSeq, limit = 50 } = {}) =>
    request(
      "GET",
      `/messages${query({ chat_id: chatId, before_seq: beforeSeq, after_seq: afterSeq, limit })}`,
    ),
  sendMessage: (chatId, content, clientMsgId, replyToId = null, attachmentIds = []) =>
    request("POST", "/messages", {
      chat_id: chatId,
      content,
      client_msg_id: clientMsgId,
      ...(replyToId != null ? { reply_to_id: replyToId } : {}),
      ...(attachmentIds.length ? { attachment_ids: attachmentIds } : {}),
    }),
  editMessage: (id, content) =>
    request("PATCH", `/messages/${encodeURIComponent(id)}/edit`, { content }),
  deleteMessage: (id) => request("DELETE", `/messages/${encodeURIComponent(id)}/delete`),
  markRead: (chatId, upToSeq) =>
    request("POST", "/messages/read", { chat_id: chatId, up_to_seq: upToSeq }),
  react: (messageId, emoji) =>
    request("PUT", `/messages/${encodeURIComponent(messageId)}/reactions/${encodeURIComponent(emoji)}`),
  unreact: (messageId, emoji) =>
    request("DELETE", `/messages/${encodeURIComponent(messageId)}/reactions/${encodeURIComponent(emoji)}`),
  searchMessages: (q, { chatId, cursor } = {}) =>
    request("GET", `/messages/search${query({ q, chat_id: chatId, cursor, limit: 20 })}`),
  pins: (chatId) => request("GET", `/chats/${encodeURIComponent(chatId)}/pins${query({ limit: 50 })}`),
  pin: (chatId, messageId) =>
    request("PUT", `/chats/${encodeURIComponent(chatId)}/pins/${encodeURIComponent(messageId)}`),
  unpin: (chatId, messageId) =>
    request("DELETE", `/chats/${encodeURIComponent(chatId)}/pins/${encodeURIComponent(messageId)}`),
  renameChat: (chatId, title) => request("PATCH", `/chats/${encodeURIComponent(chatId)}`, { title }),
  setRole: (chatId, userId, role) =>
    request("PUT", `/chats/${encodeURIComponent(chatId)}/members/${encodeURIComponent(userId)}/role`, { role }),
  transferOwner: (chatId, userId) =>
    request("POST", `/chats/${encodeURIComponent(chatId)}/owner`, { user_id: userId }),
  /** The caller's own settings: {muted_until?: ISO|null, archived?: bool}; only those given change. */
  chatSettings: (chatId, settings) => request("PUT", `/chats/${encodeURIComponent(chatId)}/settings`, settings),
  /** {key}: the server's VAPID public key; 503 when Web Push is not configured there. */
  vapidPublicKey: () => request("GET", "/push/vapid-public-key"),
  pushSubscribe: (body) => request("POST", "/push/subscriptions", body),
  pushSubscriptions: () => request("GET", "/push/subscriptions"),
  pushUnsubscribe: (id) => request("DELETE", `/push/subscriptions/${encodeURIComponent(id)}`),
  // Accounts (contract v1.1, Auth and Users): profile, blocking, sessions, export, erasure.
  /** {display_name?, avatar_attachment_id?}; null clears. Answers the User. */
  updateMe: (changes) => request("PATCH", "/users/me", changes),
  block: (userId) => request("PUT", `/users/${encodeURIComponent(userId)}/block`),
  unblock: (userId) => request("DELETE", `/users/${encodeURIComponent(userId)}/block`),
  blocked: (cursor) => request("GET", `/users/me/blocked${query({ cursor, limit: 200 })}`),
  sessions: () => request("GET", "/auth/sessions"),
  revokeSession: (id) => request("DELETE", `/auth/sessions/${encodeURIComponent(id)}`),
  startExport: () => request("POST", "/users/me/export"),
  exportStatus: (id) => poll(`/users/me/export/${encodeURIComponent(id)}`),
  deleteAccount: (password) => request("DELETE", "/users/me", { password }),
  // Bots and webhooks (contract v1.2): the caller's own bots only.
  bots: (cursor) => request("GET", `/bots${query({ cursor, limit: 200 })}`),
  /** {username, display_name?, webhook_url?} -> {bot, token, webhook_secret}; the last two only here. */
  createBot: (body) => request("POST", "/bots", body),
  /** {display_name?, webhook_url?: url|null, webhook_enabled?} -> {bot, webhook}. */
  updateBot: (id, changes) => request("PATCH", `/bots/${encodeURIComponent(id)}`, changes),
  rotateBotToken: (id) => request("POST", `/bots/${encodeURIComponent(id)}/token`),
  rotateWebhookSecret: (id) => request("POST", `/bots/${encodeURIComponent(id)}/webhook/secret`),
  /** -> Webhook; deliveries start again after inbox_seq. */
  rewindWebhook: (id, inboxSeq) =>
    request("POST", `/bots/${encodeURIComponent(id)}/webhook/rewind`, { inbox_seq: inboxSeq }),
  webhookDeliveries: (id, cursor) =>
    request("GET", `/bots/${encodeURIComponent(id)}/webhook/deliveries${query({ cursor, limit: 20 })}`),
  deleteBot: (id) => request("DELETE", `/bots/${encodeURIComponent(id)}`),
  // Scheduled and disappearing messages (contract v1.2).
  /** POST /messages with a future send_at (ISO with offset) -> 202 Scheduled. */
  scheduleMessage: (chatId, content, sendAt, clientMsgId, replyToId = null, attachmentIds = []) =>
    request("POST", "/messages", {
      chat_id: chatId,
      content,
      send_at: sendAt,
      client_msg_id: clientMsgId,
      ...(replyToId != null ? { reply_to_id: replyToId } : {}),
      ...(attachmentIds.length ? { attachment_ids: attachmentIds } : {}),
    }),
  /** The caller's pending scheduled messages of one chat, soonest first. */
  scheduled: (chatId, cursor) => request("GET", `/scheduled${query({ chat_id: chatId, cursor, limit: 100 })}`),
  /** {content?, send_at?} -> Scheduled; 404 once it was sent or cancelled. */
  updateScheduled: (id, changes) => request("PATCH", `/scheduled/${encodeURIComponent(id)}`, changes),
  cancelScheduled: (id) => request("DELETE", `/scheduled/${encodeURIComponent(id)}`),
  /** Seconds each later message lives (5 s to 365 days), null: off -> Chat. */
  setMessageTtl: (chatId, seconds) => request("PATCH", `/chats/${encodeURIComponent(chatId)}`, { message_ttl: seconds }),
};

/** A person-readable sentence for an error, with the bad fields of a validation_error. */
export function describeError(err) {
  if (!(err instanceof ApiError)) return String(err && err.message ? err.message : err);
  let text = err.message;
  if (err.code === "validation_error" && Array.isArray(err.details) && err.details.length) {
    const parts = err.details.map((d) => {
      if (typeof d === "string") return d;
      const field = d.field || d.name || (Array.isArray(d.loc) ? d.loc.filter((x) => x !== "body").join(".") : d.loc);
      const msg = d.message || d.msg || d.reason || "";
      return field ? `${field}: ${msg}` : msg;
    });
    text = `${text} (${parts.filter(Boolean).join("; ")})`;
  } else if (err.code === "rate_limited" && err.retryAfter) {
    text = `${text} Try again in ${err.retryAfter} s.`;
  }
  return text;
}

/**
 * What an upload's chip says when it failed: the server's reason for the file itself (a 422
 * on the field `file`, "The image cannot be read."), else the error as describeError says it.
 */
export function describeUploadError(err) {
  if (err instanceof ApiError && err.code === "validation_error" && Array.isArray(err.details)) {
    const onFile = err.details.find((d) => d && typeof d === "object" && (d.field === "file" || d.name === "file"));
    const text = onFile && (onFile.message || onFile.msg || onFile.reason);
    if (text) return text;
  }
  return describeError(err);
}
