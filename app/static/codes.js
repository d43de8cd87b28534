// The WebSocket protocol's names in one place (after centrifuge-js's src/codes.ts and
// src/types.ts): frame types, the close codes with what the client does about each, and the
// events the Connection emits. Pure data: safe to import anywhere, Node's tests included.

/** The events the Connection hands to the app (onEvent(type, data)). */
export const ServerEvent = Object.freeze({
  MESSAGE: "message",
  MESSAGE_EDITED: "message_edited",
  MESSAGE_DELETED: "message_deleted",
  RECEIPT: "receipt",
  CHAT_UPDATED: "chat_updated",
  TYPING: "typing",
  PRESENCE: "presence",
  REACTIONS: "reactions",
  READ_ACK: "read_ack",
  MESSAGE_ACK: "message_ack", // also settles the request it answers
  USER_UPDATED: "user_updated", // a contact's profile (or our own, from another device)
  BOT_UPDATED: "bot_updated", // one of our bots' webhook changed on its own (disabled after failing)
  SCHEDULED_UPDATED: "scheduled_updated", // one of our scheduled messages made, changed, sent or cancelled
  SCHEDULED_FAILED: "scheduled_failed", // one of our scheduled messages dropped at its moment
  ADMIN_REPORT: "admin_report", // a new report, to online server admins only: ephemeral, no inbox_seq
  ERROR: "error", // an error frame that answered no pending request
});

/** Server events that carry data.inbox_seq and move this device's inbox cursor. */
export const INBOX_TYPES = Object.freeze(
  new Set([
    ServerEvent.MESSAGE,
    ServerEvent.MESSAGE_EDITED,
    ServerEvent.MESSAGE_DELETED,
    ServerEvent.RECEIPT,
    ServerEvent.CHAT_UPDATED,
    ServerEvent.REACTIONS,
    ServerEvent.BOT_UPDATED,
    ServerEvent.SCHEDULED_UPDATED,
    ServerEvent.SCHEDULED_FAILED,
  ]),
);

/** Frames the Connection handles itself; the app never sees them as events. */
export const ServerFrame = Object.freeze({
  PING: "ping",
  CONNECTED: "connected",
  RESYNC: "resync",
  MESSAGE_ACK: "message_ack",
  ERROR: "error",
});

/** Frames this client sends. */
export const ClientFrame = Object.freeze({
  PONG: "pong",
  ACK: "ack",
  SYNC: "sync",
  MESSAGE: "message",
  EDIT_MESSAGE: "edit_message",
  DELETE_MESSAGE: "delete_message",
  READ: "read",
  TYPING: "typing",
});

/** What the client does after a close: reconnect with backoff, or first ask whether the
 *  session still stands (a refresh), reconnecting only if it does. */
export const CloseAction = Object.freeze({ RECONNECT: "reconnect", CHECK_SESSION: "check_session" });

/**
 * Close codes: the gateway's (app/realtime/codes.py) and the client's own.
 * `reconnect` tells whether the Connection tries again on its own.
 */
export const CloseCode = Object.freeze({
  // The client's own stop() closes with 1000 and does not reconnect; a server's 1000 does.
  NORMAL: { code: 1000, name: "normal", reconnect: true, action: CloseAction.RECONNECT },
  GOING_AWAY: { code: 1001, name: "going_away", reconnect: true, action: CloseAction.RECONNECT },
  ABNORMAL: { code: 1006, name: "abnormal", reconnect: true, action: CloseAction.RECONNECT },
  MESSAGE_TOO_BIG: { code: 1009, name: "message_too_big", reconnect: true, action: CloseAction.RECONNECT },
  HEARTBEAT_TIMEOUT: { code: 4000, name: "heartbeat_timeout", reconnect: true, action: CloseAction.RECONNECT },
  SLOW_CONSUMER: { code: 4008, name: "slow_consumer", reconnect: true, action: CloseAction.RECONNECT },
  SESSION_ENDED: { code: 4401, name: "session_ended", reconnect: true, action: CloseAction.CHECK_SESSION },
  IDLE: { code: 4408, name: "idle", reconnect: true, action: CloseAction.RECONNECT },
  ABUSE: { code: 4429, name: "abuse", reconnect: true, action: CloseAction.RECONNECT },
});

const BY_CODE = new Map(Object.values(CloseCode).map((c) => [c.code, c]));

/** The entry for a close code; an unknown code reconnects (a newer server, a proxy). */
export function closeInfo(code) {
  return BY_CODE.get(code) || { code, name: "unknown", reconnect: true, action: CloseAction.RECONNECT };
}

/** Connection status, as onStatus reports it. */
export const Status = Object.freeze({
  CONNECTING: "connecting",
  ONLINE: "online",
  RECONNECTING: "reconnecting",
  OFFLINE: "offline",
});

/** Error codes of a FrameError raised by the client itself (not by a server `error` frame). */
export const ClientError = Object.freeze({ DISCONNECTED: "disconnected", TIMEOUT: "timeout" });

/** Error codes after which a send is tried again (over REST, or on the next connection). */
export const RETRYABLE = Object.freeze(
  new Set([ClientError.DISCONNECTED, ClientError.TIMEOUT, "network_error", "unavailable", "internal"]),
);
