// The WebSocket side of the client: ticket, connect, heartbeat, reconnect with backoff, and
// the per-device inbox cursor (drop duplicates, detect gaps and `sync`, throttled `ack`s).
// Frame types, close codes and statuses are named in codes.js; the inbox rule is the store's.

import { api, ApiError, getTokens, refreshTokens, uuid } from "./api.js";
import {
  ClientError,
  ClientFrame,
  CloseAction,
  CloseCode,
  INBOX_TYPES,
  ServerEvent,
  ServerFrame,
  Status,
  closeInfo,
} from "./codes.js";
import { inboxStep } from "./store.js";

export { INBOX_TYPES };

const DEVICE_KEY = "messenger.device_id";
const ACK_INTERVAL_MS = 200;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 10_000;
const SYNC_RETRY_MS = 5_000;
const REQUEST_TIMEOUT_MS = 10_000;

/** A stable id for this browser profile, made once. */
export function deviceId() {
  let id = localStorage.getItem(DEVICE_KEY);
  if (!id) {
    id = uuid();
    localStorage.setItem(DEVICE_KEY, id);
  }
  return id;
}

function cursorKey(userId, device) {
  return `messenger.inbox_seq.${userId}.${device}`;
}

/** An `error` frame that answered one of our frames, or a dropped connection. */
export class FrameError extends Error {
  constructor(code, message, details = null) {
    super(message || code);
    this.name = "FrameError";
    this.code = code;
    this.details = details; // the error frame's details (a mute's until, a wait's retry_after)
  }
}

/**
 * One logical connection that survives drops. Callbacks:
 *  onEvent(type, data)       every server frame but the bookkeeping ones (ServerFrame in
 *                            codes.js), inbox events (INBOX_TYPES) only once each, in inbox
 *                            order; also message_ack and unmatched error frames
 *  onStatus(status, detail)  a Status (codes.js): connecting | online | reconnecting | offline
 *  onConnected(data, first)  after each `connected` frame
 *  onResync(inboxSeq)        async; refetch over REST; the ack is sent when it resolves
 *  onAuthLost()              the session is over (4401 and refresh refused, or no tokens)
 */
export class Connection {
  constructor({ userId, onEvent, onStatus, onConnected, onResync, onAuthLost }) {
    this.userId = userId;
    this.device = deviceId();
    this.onEvent = onEvent;
    this.onStatus = onStatus || (() => {});
    this.onConnected = onConnected || (() => {});
    this.onResync = onResync || (async () => {});
    this.onAuthLost = onAuthLost || (() => {});

    const stored = localStorage.getItem(cursorKey(userId, this.device));
    this.hasStoredCursor = stored !== null;
    this.lastApplied = stored !== null ? Number(stored) || 0 : 0;

    this.ws = null;
    this.opening = false; // fetching a ticket for the next socket
    this.ready = false; // `connected` received on the current socket
    this.stopped = true;
    this.attempt = 0;
    this.retryTimer = null;
    this.connectedAt = 0;
    this.everConnected = false;
    this.heartbeatMs = 25_000;
    this.watchdog = null;

    this.serverCursor = null; // inbox_seq of the last `connected` frame
    this.ackSent = 0; // highest ack sent on the current socket
    this.ackTimer = null;
    this.lastAckAt = 0;
    this.ackHold = false; // while a resync refetch runs
    this.syncFrom = null; // since_inbox_seq of an outstanding sync
    this.syncAt = 0;

    this.pending = new Map(); // ref -> {resolve, reject, timer}

    this._online = () => this.reconnectNow();
    this._visible = () => {
      if (document.visibilityState === "visible") this.reconnectNow();
    };
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener("online", this._online);
    document.addEventListener("visibilitychange", this._visible);
    this.open();
  }

  /** Closes for good (log out, session over): no reconnect. */
  stop() {
    this.stopped = true;
    window.removeEventListener("online", this._online);
    document.removeEventListener("visibilitychange", this._visible);
    clearTimeout(this.retryTimer);
    clearTimeout(this.ackTimer);
    clearTimeout(this.watchdog);
    this.flushAck();
    const ws = this.ws;
    this.ws = null;
    this.ready = false;
    this.failPending(ClientError.DISCONNECTED, "The connection was closed.");
    if (ws) {
      try {
        ws.close(CloseCode.NORMAL.code, "bye");
      } catch {
        /* already closed */
      }
    }
  }

  isReady() {
    return !!(this.ws && this.ready && this.ws.readyState === WebSocket.OPEN);
  }

  /** While waiting to reconnect: try now (the network came back, the tab became visible). */
  reconnectNow() {
    if (this.stopped || this.ws || this.opening) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.open();
  }

  async open() {
    if (this.stopped || this.ws || this.opening) return;
    this.opening = true;
    this.onStatus(this.everConnected ? Status.RECONNECTING : Status.CONNECTING);
    let ticket;
    try {
      if (!getTokens()) {
        this.opening = false;
        this.authLost();
        return;
      }
      ticket = (await api.wsTicket()).ticket;
    } catch (e) {
      this.opening = false;
      if (e instanceof ApiError && e.status === 401) this.authLost();
      else this.scheduleReconnect();
      return;
    }
    this.opening = false;
    if (this.stopped || this.ws) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const url =
      `${scheme}://${location.host}/ws?ticket=${encodeURIComponent(ticket)}` +
      `&device_id=${encodeURIComponent(this.device)}`;
    let ws;
    try {
      ws = new WebSocket(url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.ready = false;
    this.ackSent = 0;
    this.syncFrom = null;
    ws.onmessage = (ev) => this.handleFrame(ws, ev.data);
    ws.onclose = (ev) => this.handleClose(ws, ev);
    ws.onerror = () => {
      /* a close event follows */
    };
  }

  handleClose(ws, ev) {
    if (ws !== this.ws) return;
    this.ws = null;
    this.ready = false;
    clearTimeout(this.watchdog);
    clearTimeout(this.ackTimer);
    this.ackTimer = null;
    this.failPending(ClientError.DISCONNECTED, "The connection was lost.");
    if (this.stopped) return;
    if (this.connectedAt && Date.now() - this.connectedAt > 10_000) this.attempt = 0;
    this.connectedAt = 0;
    const info = closeInfo(ev.code);
    if (info.action === CloseAction.CHECK_SESSION) {
      // Credentials revoked or expired: a refresh tells which; a revoked session ends here.
      this.onStatus(Status.RECONNECTING, "session check");
      refreshTokens()
        .then((ok) => (ok ? this.scheduleReconnect() : this.authLost()))
        .catch(() => this.scheduleReconnect());
      return;
    }
    if (info.reconnect) this.scheduleReconnect(ev.code);
    else {
      this.stop();
      this.onStatus(Status.OFFLINE, info.name);
    }
  }

  authLost() {
    this.stop();
    this.onStatus(Status.OFFLINE, "logged out");
    this.onAuthLost();
  }

  scheduleReconnect(code) {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
    this.attempt += 1;
    // Jitter: somewhere between half and all of the step.
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    this.onStatus(Status.RECONNECTING, { delay, code });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.open();
    }, delay);
  }

  armWatchdog() {
    clearTimeout(this.watchdog);
    // No frame at all for 2.5 heartbeats: the connection is dead even if TCP says otherwise.
    this.watchdog = setTimeout(() => {
      if (this.ws) {
        try {
          this.ws.close(CloseCode.HEARTBEAT_TIMEOUT.code, "heartbeat timeout");
        } catch {
          /* ignore */
        }
        this.handleClose(this.ws, { code: CloseCode.HEARTBEAT_TIMEOUT.code });
      }
    }, this.heartbeatMs * 2.5);
  }

  rawSend(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    try {
      this.ws.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  /** Fire and forget; false when the socket is not up. */
  send(type, data) {
    if (!this.isReady()) return false;
    return this.rawSend({ type, data });
  }

  /** A frame whose answer (message_ack or error, matched by ref) resolves the promise. */
  request(type, data, ref = uuid()) {
    if (!this.isReady()) return Promise.reject(new FrameError(ClientError.DISCONNECTED, "Not connected."));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        reject(new FrameError(ClientError.TIMEOUT, "No answer from the server."));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(ref, { resolve, reject, timer });
      if (!this.rawSend({ type, data, ref })) {
        clearTimeout(timer);
        this.pending.delete(ref);
        reject(new FrameError(ClientError.DISCONNECTED, "Not connected."));
      }
    });
  }

  failPending(code, message) {
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new FrameError(code, message));
    }
    this.pending.clear();
  }

  settle(ref, ok, value) {
    const p = ref != null ? this.pending.get(ref) : null;
    if (!p) return false;
    this.pending.delete(ref);
    clearTimeout(p.timer);
    if (ok) p.resolve(value);
    else p.reject(value);
    return true;
  }

  handleFrame(ws, text) {
    if (ws !== this.ws) return;
    this.armWatchdog();
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (!frame || typeof frame.type !== "string") return;
    const data = frame.data || {};
    switch (frame.type) {
      case ServerFrame.PING:
        this.rawSend({ type: ClientFrame.PONG, data: {} });
        return;
      case ServerFrame.CONNECTED:
        this.handleConnected(data);
        return;
      case ServerFrame.RESYNC:
        this.handleResync(data);
        return;
      case ServerFrame.MESSAGE_ACK: {
        const ref = frame.ref ?? data.message?.client_msg_id;
        this.settle(ref, true, data);
        // The app applies the message too, in case the promise was already given up.
        this.onEvent(ServerEvent.MESSAGE_ACK, data);
        return;
      }
      case ServerFrame.ERROR:
        if (!this.settle(frame.ref, false, new FrameError(data.code, data.message, data.details ?? null))) {
          this.onEvent(ServerEvent.ERROR, data);
        }
        return;
      default:
        break;
    }
    if (INBOX_TYPES.has(frame.type) && Number.isInteger(data.inbox_seq)) {
      this.handleInboxEvent(frame.type, data);
      return;
    }
    this.onEvent(frame.type, data);
  }

  handleConnected(data) {
    this.ready = true;
    this.connectedAt = Date.now();
    const first = !this.everConnected;
    this.everConnected = true;
    if (Number(data.heartbeat_interval) > 0) this.heartbeatMs = Number(data.heartbeat_interval) * 1000;
    this.armWatchdog();
    this.serverCursor = Number.isInteger(data.inbox_seq) ? data.inbox_seq : null;
    // The server's cursor for this device is behind what this device applied (acks lost
    // with the last connection): move it on, so the replay it is about to send is short.
    if (this.serverCursor !== null && this.lastApplied > this.serverCursor) this.scheduleAck();
    this.onStatus(Status.ONLINE);
    this.onConnected(data, first);
  }

  async handleResync(data) {
    const seq = Number(data.inbox_seq) || 0;
    this.setApplied(seq);
    this.syncFrom = null;
    this.ackHold = true;
    try {
      await this.onResync(seq);
    } catch {
      /* the REST views will catch up on the next event */
    } finally {
      this.ackHold = false;
    }
    this.scheduleAck(true);
  }

  handleInboxEvent(type, data) {
    const seq = data.inbox_seq;
    const step = inboxStep(this.lastApplied, seq);
    if (step === "duplicate") {
      // A duplicate (at-least-once delivery). Make sure the server learns our cursor.
      this.scheduleAck();
      return;
    }
    if (step === "gap") {
      // A gap: ask for everything after our cursor, and drop events until it arrives.
      const now = Date.now();
      if (this.syncFrom !== this.lastApplied || now - this.syncAt > SYNC_RETRY_MS) {
        this.syncFrom = this.lastApplied;
        this.syncAt = now;
        this.rawSend({ type: ClientFrame.SYNC, data: { since_inbox_seq: this.lastApplied } });
      }
      return;
    }
    this.syncFrom = null;
    try {
      this.onEvent(type, data);
    } finally {
      this.setApplied(seq);
      this.scheduleAck();
    }
  }

  setApplied(seq) {
    this.lastApplied = seq;
    this.hasStoredCursor = true;
    try {
      localStorage.setItem(cursorKey(this.userId, this.device), String(seq));
    } catch {
      /* storage full or denied: the server still replays after our last ack */
    }
  }

  /** Acks at most every ACK_INTERVAL_MS, always the latest applied inbox_seq. */
  scheduleAck(force = false) {
    if (this.ackTimer || this.ackHold) return;
    if (!force && this.lastApplied <= Math.max(this.ackSent, this.serverCursor ?? 0)) return;
    const wait = Math.max(0, this.lastAckAt + ACK_INTERVAL_MS - Date.now());
    this.ackTimer = setTimeout(() => {
      this.ackTimer = null;
      this.flushAck(force);
    }, wait);
  }

  flushAck(force = false) {
    if (this.ackHold || !this.isReady()) return;
    if (!force && this.lastApplied <= Math.max(this.ackSent, this.serverCursor ?? 0)) return;
    if (this.rawSend({ type: ClientFrame.ACK, data: { inbox_seq: this.lastApplied } })) {
      this.ackSent = this.lastApplied;
      this.lastAckAt = Date.now();
    }
  }
}
