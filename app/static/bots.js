// Bots and their webhooks in the web client (contract v1.2, Bots and webhooks): the state the
// Bots dialog shows and its merge rules. Pure like store.js: no DOM, no network, no timers,
// so Node's test runner imports it as is (tests/web/bots.test.mjs). The dialog itself, its
// REST calls and the `bot_updated` hook are botsview.js.
//
// Merge rule. Three things write a bot's entry: a GET /bots page, the answer to one of our own
// changes (PATCH, rewind, ...), and the owner's inbox event `bot_updated` {inbox_seq, bot,
// webhook}. Each write stamps the entry with a rising `changed` clock. A page asked for before
// a later write must not undo it, so a page only writes the entries that did not change since
// it was asked for (`beginLoad` gives that moment). An event at or below the inbox_seq that
// entry already took from an event is a duplicate (at-least-once delivery) and is dropped.

/** What the server takes as a username (Username in app/api/schemas.py). */
export const BOT_USERNAME = /^[A-Za-z0-9_.-]{3,32}$/;
export const DISPLAY_NAME_MAX = 64;
export const WEBHOOK_URL_MAX = 2048;

/** The Bots dialog's state; one per signed-in session (reset on logout). */
export function createBotsState() {
  return {
    bots: new Map(), // bot id -> {bot: User, webhook: Webhook|null, seq, changed}
    clock: 0, // rises with every write to `bots`
    loaded: false, // a full GET /bots has been applied
    deliveries: new Map(), // bot id -> {items: [delivery], next_cursor, loaded}
  };
}

export function resetBotsState(state) {
  state.bots.clear();
  state.clock = 0;
  state.loaded = false;
  state.deliveries.clear();
}

/**
 * Stores `{bot, webhook}` (a GET /bots item, a PATCH answer, an event) as the bot's entry.
 * `seq`: the inbox_seq of the event that carried it (0 for REST). Returns the stored entry.
 */
export function upsertBot(state, item, seq = 0) {
  const id = item?.bot?.id;
  if (id == null) return null;
  const before = state.bots.get(id);
  const entry = {
    bot: { ...(before?.bot || {}), ...item.bot },
    webhook: item.webhook === undefined ? (before?.webhook ?? null) : item.webhook,
    seq: Math.max(before?.seq || 0, Number(seq) || 0),
    changed: ++state.clock,
  };
  state.bots.set(id, entry);
  return entry;
}

/** A new Webhook for a bot we hold (the rewind's answer is the Webhook alone). */
export function setWebhook(state, botId, webhook) {
  const before = state.bots.get(botId);
  if (!before) return null;
  return upsertBot(state, { bot: before.bot, webhook });
}

/**
 * The `bot_updated` event. Returns the stored entry, or null when it changes nothing (a
 * duplicate or older event, or data without a bot). A bot we did not know yet (made on
 * another device) is added.
 */
export function applyBotUpdated(state, data) {
  const id = data?.bot?.id;
  if (id == null) return null;
  const seq = Number(data.inbox_seq) || 0;
  const before = state.bots.get(id);
  if (before && seq > 0 && seq <= before.seq) return null;
  return upsertBot(state, { bot: data.bot, webhook: data.webhook ?? null }, seq);
}

/** The moment a GET /bots is asked for; pass it to applyBotPage with its answer. */
export function beginLoad(state) {
  return state.clock;
}

/**
 * A GET /bots page, asked for at `since` (beginLoad). `complete`: this was the last page of a
 * walk from the start, so bots it did not name are gone (deleted on another device), unless
 * they changed after `since` (made meanwhile).
 */
export function applyBotPage(state, items, since, { complete = false, seen = null } = {}) {
  const names = seen || new Set();
  for (const item of items || []) {
    const id = item?.bot?.id;
    if (id == null) continue;
    names.add(id);
    const before = state.bots.get(id);
    if (before && before.changed > since) continue; // a later write wins
    upsertBot(state, item, before?.seq || 0);
  }
  if (complete) {
    for (const [id, entry] of state.bots) {
      if (!names.has(id) && entry.changed <= since) removeBot(state, id);
    }
    state.loaded = true;
  }
  return names;
}

export function removeBot(state, id) {
  state.deliveries.delete(id);
  return state.bots.delete(id);
}

/** The bots in the order they were made (ids rise). */
export function sortedBots(state) {
  return [...state.bots.values()].sort((a, b) => a.bot.id - b.bot.id);
}

/** "Name (@username)" or "@username" when the display name is the username. */
export function botLabel(bot) {
  const name = (bot?.display_name || "").trim();
  const user = bot?.username || "";
  if (!name || name === user) return `@${user}`;
  return `${name} (@${user})`;
}

/**
 * What a webhook is doing, for a badge: kind is one of none, disabled (by the server after
 * failing too long, or by the owner: `disabled_reason` says which), failing (retrying),
 * delivering, ok.
 */
export function webhookStatus(webhook) {
  if (!webhook) return { kind: "none", text: "No webhook" };
  const pending = Number(webhook.pending) || 0;
  if (!webhook.enabled) {
    const waiting = pending ? ` (${pending} waiting)` : "";
    const reason = webhook.disabled_reason || "";
    // The owner's own "Disabled by its owner." says it all; the server's reason follows "Disabled".
    if (/^disabled\b/i.test(reason)) return { kind: "disabled", text: `${reason.replace(/\.$/, "")}${waiting}` };
    return { kind: "disabled", text: `Disabled${waiting}${reason ? `: ${reason}` : ""}` };
  }
  if (webhook.last_error) return { kind: "failing", text: `Failing, retrying: ${webhook.last_error}` };
  if (pending) return { kind: "delivering", text: `Delivering (${pending} pending)` };
  return { kind: "ok", text: "Up to date" };
}

/** "120 ms", "1.5 s", "2 min 5 s"; "—" when unknown. */
export function formatDuration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(Number(ms))) return "—";
  const n = Math.max(0, Number(ms));
  if (n < 1000) return `${Math.round(n)} ms`;
  if (n < 60_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)} s`;
  const s = Math.round(n / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** A delivery attempt as the table shows it. */
export function deliveryRow(d) {
  const status = d.status === null || d.status === undefined ? null : Number(d.status);
  const ok = status !== null && status >= 200 && status < 300 && !d.error;
  const first = d.first_inbox_seq;
  const last = d.last_inbox_seq;
  return {
    id: d.id,
    at: d.at || null,
    events: first == null ? "—" : first === last || last == null ? String(first) : `${first}–${last}`,
    status: status === null ? "no answer" : String(status),
    ok,
    attempt: String(d.attempt ?? "—"),
    duration: formatDuration(d.duration_ms),
    error: d.error || "",
  };
}

function newestFirst(a, b) {
  const ta = Date.parse(a.at || "") || 0;
  const tb = Date.parse(b.at || "") || 0;
  if (ta !== tb) return tb - ta;
  return (b.id || 0) - (a.id || 0);
}

/**
 * A page of GET /bots/{id}/webhook/deliveries merged into what the bot's table holds: one row
 * per attempt id, newest first. `fresh`: the first page again (a refresh), whose rows go on
 * top of those already loaded.
 */
export function mergeDeliveries(state, botId, page, { fresh = false } = {}) {
  const before = state.deliveries.get(botId);
  const byId = new Map();
  for (const d of before?.items || []) byId.set(d.id, d);
  for (const d of page?.items || []) if (d && d.id != null) byId.set(d.id, d);
  const items = [...byId.values()].sort(newestFirst);
  const next = fresh && before?.loaded ? before.next_cursor : (page?.next_cursor ?? null);
  const entry = { items, next_cursor: next, loaded: true };
  state.deliveries.set(botId, entry);
  return entry;
}

/**
 * POST /bots's body from the create form, or {error, field} for what the server would refuse
 * anyway (said here without a round trip). Empty optional fields are left out.
 */
export function newBotRequest({ username = "", displayName = "", webhookUrl = "" } = {}) {
  const name = username.trim();
  if (!name) return { error: "Enter a username for the bot.", field: "username" };
  if (!BOT_USERNAME.test(name)) {
    return { error: "The username is 3 to 32 letters, digits, _ . or -.", field: "username" };
  }
  const body = { username: name };
  const display = displayName.trim();
  if (display) {
    if (display.length > DISPLAY_NAME_MAX) return { error: `The display name is at most ${DISPLAY_NAME_MAX} characters.`, field: "display_name" };
    body.display_name = display;
  }
  const url = webhookUrl.trim();
  if (url) {
    if (url.length > WEBHOOK_URL_MAX) return { error: `The webhook URL is at most ${WEBHOOK_URL_MAX} characters.`, field: "webhook_url" };
    body.webhook_url = url;
  }
  return { body };
}

/**
 * PATCH /bots/{id}'s body from the webhook form: only what differs from `webhook` (the bot's
 * current Webhook or null). An empty URL removes the webhook. null when nothing changed.
 */
export function webhookChanges(webhook, { url = "", enabled } = {}) {
  const body = {};
  const wanted = url.trim();
  const current = webhook?.url || "";
  if (wanted !== current) body.webhook_url = wanted ? wanted : null;
  if (wanted && enabled !== undefined && enabled !== (webhook ? !!webhook.enabled : true)) {
    body.webhook_enabled = !!enabled;
  }
  if (body.webhook_url && body.webhook_url.length > WEBHOOK_URL_MAX) {
    return { error: `The webhook URL is at most ${WEBHOOK_URL_MAX} characters.`, field: "webhook_url" };
  }
  return Object.keys(body).length ? { body } : { body: null };
}

/** POST /bots/{id}/webhook/rewind's body from the input, or {error}. */
export function rewindRequest(value) {
  const text = String(value ?? "").trim();
  if (!/^\d+$/.test(text)) return { error: "Enter an inbox_seq: a whole number, 0 or more." };
  const n = Number(text);
  if (!Number.isSafeInteger(n)) return { error: "That inbox_seq is too large." };
  return { body: { inbox_seq: n } };
}

/**
 * The fields an API error names ({error: {details: [{field, message}]}}), as field -> message;
 * empty for any other error.
 */
export function fieldErrors(err) {
  const out = {};
  const details = err && Array.isArray(err.details) ? err.details : [];
  for (const d of details) {
    if (!d || typeof d !== "object") continue;
    const field = d.field || d.name || (Array.isArray(d.loc) ? d.loc.filter((x) => x !== "body").join(".") : d.loc);
    const message = d.message || d.msg || d.reason;
    if (field && message && !(field in out)) out[field] = message;
  }
  return out;
}
