// Scheduled and disappearing messages in the web client (contract v1.2): the caller's pending
// scheduled messages and their merge rules, the datetime-local <-> ISO conversions, and the
// chat timer's labels. Pure like store.js and bots.js: no DOM, no network, no timers, so
// Node's test runner imports it as is (tests/web/scheduled.test.mjs). The composer's "send
// later" bar, the Scheduled list and the REST calls are scheduledview.js.
//
// Merge rule. Three things write a pending message: a GET /scheduled page, the answer to one
// of our own requests (POST 202, PATCH 200), and the inbox event `scheduled_updated`
// {inbox_seq, scheduled: Scheduled|null, id}. A scheduled message that left (sent, cancelled,
// failed) never comes back: ids are not reused, so its id is remembered as gone and any later
// or slower write naming it is ignored (a POST answer arriving after the event that says it
// was already sent, a page asked for before the cancel). Each write stamps the entry with a
// rising `changed` clock; a page asked for before a later write does not undo that write.

/** The server's horizon for send_at (app/services/scheduled.py HORIZON). */
export const MAX_AHEAD_MS = 365 * 24 * 3600 * 1000;

/** The chat timer's bounds (PATCH /chats/{id} message_ttl). */
export const TTL_MIN = 5;
export const TTL_MAX = 365 * 24 * 3600;

/** The choices the chat settings offer; null turns the timer off. */
export const TTL_CHOICES = Object.freeze([
  Object.freeze({ value: null, label: "Off" }),
  Object.freeze({ value: 30, label: "30 seconds" }),
  Object.freeze({ value: 300, label: "5 minutes" }),
  Object.freeze({ value: 3600, label: "1 hour" }),
  Object.freeze({ value: 86400, label: "1 day" }),
  Object.freeze({ value: 604800, label: "1 week" }),
]);

/** The pending list's state; one per signed-in session (reset on logout). */
export function createScheduledState() {
  return {
    items: new Map(), // scheduled id -> {scheduled: Scheduled, changed}
    gone: new Set(), // ids sent, cancelled or failed: never pending again
    clock: 0, // rises with every write to `items`
    loaded: new Set(), // chat ids whose full list has been applied
    seq: 0, // the highest inbox_seq applied (events arrive in order; duplicates are dropped)
  };
}

export function resetScheduledState(state) {
  state.items.clear();
  state.gone.clear();
  state.clock = 0;
  state.loaded.clear();
  state.seq = 0;
}

/**
 * Stores a Scheduled (a POST or PATCH answer, a page item) as pending. Returns the stored
 * entry, or null when its id already left.
 */
export function upsertScheduled(state, scheduled) {
  const id = scheduled?.id;
  if (id == null || state.gone.has(id)) return null;
  const before = state.items.get(id);
  const entry = { scheduled: { ...(before?.scheduled || {}), ...scheduled }, changed: ++state.clock };
  state.items.set(id, entry);
  return entry;
}

/** The id is no longer pending (sent, cancelled, failed); true when it was listed. */
export function removeScheduled(state, id) {
  if (id == null) return false;
  state.gone.add(id);
  state.clock++;
  return state.items.delete(id);
}

function isDuplicate(state, data) {
  const seq = Number(data?.inbox_seq) || 0;
  if (seq > 0 && seq <= state.seq) return true;
  if (seq > state.seq) state.seq = seq;
  return false;
}

/**
 * The `scheduled_updated` event. Returns {chatId, removed} for the list to redraw, or null
 * when it changes nothing (a duplicate, an id that already left).
 */
export function applyScheduledUpdated(state, data) {
  if (!data || isDuplicate(state, data)) return null;
  const id = data.scheduled?.id ?? data.id;
  if (id == null) return null;
  if (!data.scheduled) {
    const chatId = state.items.get(id)?.scheduled.chat_id ?? null;
    const removed = removeScheduled(state, id);
    return removed ? { chatId, removed: true } : null;
  }
  const entry = upsertScheduled(state, data.scheduled);
  return entry ? { chatId: entry.scheduled.chat_id, removed: false } : null;
}

/**
 * The `scheduled_failed` event: the message is dropped. Returns {chatId, scheduledId, text,
 * content} for the notice, or null for a duplicate.
 */
export function applyScheduledFailed(state, data) {
  if (!data || isDuplicate(state, data)) return null;
  const id = data.scheduled_id;
  const held = state.items.get(id)?.scheduled;
  removeScheduled(state, id);
  return {
    chatId: data.chat_id ?? held?.chat_id ?? null,
    scheduledId: id,
    content: held?.content ?? null,
    text: failureText(data.reason),
  };
}

/** Why a scheduled message was not sent, as a sentence. */
export function failureText(reason) {
  const why = {
    not_a_member: "you are no longer a member of that chat",
    attachment_gone: "a file it carried is gone",
    refused: "the chat refused it (the message it replied to is gone, or a block)",
  }[reason];
  return `A scheduled message was not sent: ${why || reason || "the server dropped it"}.`;
}

/** The moment a GET /scheduled is asked for; pass it to applyScheduledPage with its answer. */
export function beginLoad(state) {
  return state.clock;
}

/**
 * A page of GET /scheduled?chat_id=, asked for at `since` (beginLoad). `complete`: the last
 * page of a walk from the start, so that chat's entries it did not name are no longer pending,
 * unless they changed after `since` (made meanwhile). `seen` carries the ids across pages.
 */
export function applyScheduledPage(state, chatId, items, since, { complete = false, seen = null } = {}) {
  const names = seen || new Set();
  for (const item of items || []) {
    if (item?.id == null) continue;
    names.add(item.id);
    const before = state.items.get(item.id);
    if (before && before.changed > since) continue; // a later write wins
    upsertScheduled(state, item);
  }
  if (complete) {
    for (const [id, entry] of [...state.items]) {
      if (entry.scheduled.chat_id === chatId && !names.has(id) && entry.changed <= since) removeScheduled(state, id);
    }
    state.loaded.add(chatId);
  }
  return names;
}

/** Soonest first; the same moment in the order they were made (ids rise). */
export function compareScheduled(a, b) {
  const ta = Date.parse(a.send_at || "");
  const tb = Date.parse(b.send_at || "");
  const va = Number.isNaN(ta) ? Infinity : ta;
  const vb = Number.isNaN(tb) ? Infinity : tb;
  if (va !== vb) return va < vb ? -1 : 1;
  return (a.id || 0) - (b.id || 0);
}

/** One chat's pending messages, soonest first. */
export function scheduledFor(state, chatId) {
  const out = [];
  for (const { scheduled } of state.items.values()) if (scheduled.chat_id === chatId) out.push(scheduled);
  return out.sort(compareScheduled);
}

// ---------------------------------------------------------------- times

const pad = (n, width = 2) => String(Math.trunc(Math.abs(n))).padStart(width, "0");

/** "+02:00", "-05:30", "+00:00" for an offset in minutes east of UTC. */
export function offsetText(minutesEast) {
  const sign = minutesEast < 0 ? "-" : "+";
  return `${sign}${pad(Math.abs(minutesEast) / 60)}:${pad(Math.abs(minutesEast) % 60)}`;
}

/**
 * A datetime-local value ("2026-12-06T14:30" or with ":05" seconds), read as local time, as
 * the Date it names; null when it is not one. A moment skipped by a DST change moves forward
 * as the browser's Date does.
 */
export function parseLocalInput(value) {
  const m = /^(\d{4,})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/.exec(String(value ?? "").trim());
  if (!m) return null;
  const [y, mo, d, hh, mi, ss = "0", ms = "0"] = m.slice(1);
  const date = new Date(Number(y), Number(mo) - 1, Number(d), Number(hh), Number(mi), Number(ss), Number(ms.padEnd(3, "0")));
  if (Number.isNaN(date.getTime())) return null;
  // 2026-02-31 would roll over into March: not a date the input can hold.
  if (date.getMonth() !== Number(mo) - 1 || date.getDate() !== Number(d)) return null;
  return date;
}

/**
 * The Date as an ISO time with the local offset ("2026-12-06T14:30:05+01:00"): what the
 * person picked, in their own zone, and unambiguous for the server. `offsetOf(date)` gives the
 * offset in minutes west of UTC, as Date.prototype.getTimezoneOffset (the default) does.
 */
export function isoWithOffset(date, offsetOf = (d) => d.getTimezoneOffset()) {
  const east = -offsetOf(date);
  const local = new Date(date.getTime() + east * 60_000); // its UTC fields are the local ones
  const day = `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}`;
  const time = `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}`;
  return `${day}T${time}${offsetText(east)}`;
}

/** A datetime-local value straight to the ISO time the server takes; null when it is not one. */
export function localInputToIso(value, offsetOf) {
  const date = parseLocalInput(value);
  return date ? isoWithOffset(date, offsetOf) : null;
}

/** An ISO time (or a Date, or ms) as a datetime-local value in local time, to the second. */
export function toLocalInput(when) {
  const d = when instanceof Date ? when : new Date(typeof when === "number" ? when : Date.parse(when || ""));
  if (Number.isNaN(d.getTime())) return "";
  return `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/**
 * send_at from the "send later" input, or {error} for what cannot be meant (said here without
 * a round trip): empty, not a time, or already past. Later than the server's horizon is left
 * to the server, whose refusal the bar shows.
 */
export function sendAtFromInput(value, now = Date.now(), offsetOf) {
  if (!String(value ?? "").trim()) return { error: "Pick when to send it." };
  const date = parseLocalInput(value);
  if (!date) return { error: "That is not a date and time." };
  if (date.getTime() <= now) return { error: "That moment has passed: pick a later one." };
  return { send_at: isoWithOffset(date, offsetOf) };
}

/**
 * PATCH /scheduled/{id}'s body from the edit form: only what differs from `scheduled`; {body:
 * null} when nothing changed, {error} for what cannot be sent.
 */
export function scheduledChanges(scheduled, { content, when } = {}, now = Date.now(), offsetOf) {
  const body = {};
  if (content !== undefined) {
    const text = String(content);
    if (!text.trim() && !(scheduled?.attachment_ids || []).length) return { error: "The message is empty." };
    if (text !== scheduled?.content) body.content = text;
  }
  if (when !== undefined) {
    const before = Date.parse(scheduled?.send_at || "");
    const picked = parseLocalInput(when);
    // The input shows whole seconds: the same second as before is no change.
    if (!picked || Math.floor(picked.getTime() / 1000) !== Math.floor(before / 1000)) {
      const at = sendAtFromInput(when, now, offsetOf);
      if (at.error) return { error: at.error };
      body.send_at = at.send_at;
    }
  }
  return { body: Object.keys(body).length ? body : null };
}

// ---------------------------------------------------------------- the chat timer

const UNITS = [
  [604800, "week", "w"],
  [86400, "day", "d"],
  [3600, "hour", "h"],
  [60, "minute", "min"],
  [1, "second", "s"],
];

/**
 * A message_ttl for people: "30 seconds", "5 minutes", "1 week" (short: "30 s", "5 min",
 * "1 w"); a value that is no whole unit in two parts ("1 hour 30 minutes"). "Off" for null.
 */
export function ttlLabel(seconds, { short = false } = {}) {
  if (seconds === null || seconds === undefined || seconds === "") return "Off";
  let left = Math.round(Number(seconds));
  if (!Number.isFinite(left) || left <= 0) return "Off";
  const parts = [];
  for (const [size, long, abbr] of UNITS) {
    if (left < size) continue;
    const n = Math.floor(left / size);
    left -= n * size;
    parts.push(short ? `${n} ${abbr}` : `${n} ${long}${n === 1 ? "" : "s"}`);
    if (parts.length === 2) break;
  }
  return parts.join(" ");
}

/** The chat header's mark for a chat with a timer ("⏱ 5 min"), or "" without one. */
export function ttlBadge(chat) {
  const ttl = chat?.message_ttl;
  return ttl ? `⏱ ${ttlLabel(ttl, { short: true })}` : "";
}

/** The timer choices for a select: the fixed ones, plus the chat's own when it is another. */
export function ttlOptions(current) {
  const options = TTL_CHOICES.map((c) => ({ ...c }));
  if (current && !options.some((o) => o.value === current)) {
    options.push({ value: current, label: ttlLabel(current) });
    options.sort((a, b) => (a.value ?? 0) - (b.value ?? 0));
  }
  return options;
}

/** A select's value ("" or digits) as PATCH /chats/{id}'s message_ttl. */
export function ttlFromSelect(value) {
  const text = String(value ?? "").trim();
  if (!text || text === "off") return null;
  const n = Number(text);
  return Number.isInteger(n) && n >= TTL_MIN && n <= TTL_MAX ? n : null;
}
