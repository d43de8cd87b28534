// Moderation in the web client (contract v1.2, Moderation): reporting a message, an admin's
// report queue, and a group's bans, mutes and slow mode. Pure like store.js, bots.js and
// scheduled.js: no DOM, no network, no timers, so Node's test runner imports it as is
// (tests/web/moderation.test.mjs). The DOM side (the report form, the Reports dialog, the
// settings panel's controls) is to be a separate module, as botsview.js is to bots.js.
//
// Merge rule for the report queue. Two things write it: a GET /admin/reports page and the
// ephemeral `admin_report` frame {report} (no inbox_seq: not replayed, so a page is the truth
// after a reconnect). A report resolved here (our POST .../resolve answer, or a page saying
// so) never comes back as open: its id is remembered, and a slower frame or page naming it as
// open is ignored.

export const REPORT_REASONS = Object.freeze([
  Object.freeze({ value: "spam", label: "Spam" }),
  Object.freeze({ value: "abuse", label: "Abuse or harassment" }),
  Object.freeze({ value: "illegal", label: "Illegal content" }),
  Object.freeze({ value: "other", label: "Other" }),
]);

export const RESOLVE_ACTIONS = Object.freeze([
  Object.freeze({ value: "dismiss", label: "Dismiss" }),
  Object.freeze({ value: "delete_message", label: "Delete message" }),
  Object.freeze({ value: "deactivate_sender", label: "Deactivate sender" }),
]);

/** The server's bound on a comment, a note and a ban reason (app/api/schemas.py Note). */
export const NOTE_MAX = 1000;

/** PATCH /chats/{id} slow_mode: 1 s to a day; null turns it off. */
export const SLOW_MODE_MAX = 86_400;
export const SLOW_MODE_CHOICES = Object.freeze([
  Object.freeze({ value: null, label: "Off" }),
  Object.freeze({ value: 10, label: "10 s" }),
  Object.freeze({ value: 30, label: "30 s" }),
  Object.freeze({ value: 60, label: "1 min" }),
  Object.freeze({ value: 300, label: "5 min" }),
  Object.freeze({ value: 3600, label: "1 h" }),
]);

/** The mute form's choices: seconds from now, or "custom" (a datetime-local input). */
export const MUTE_CHOICES = Object.freeze([
  Object.freeze({ value: 600, label: "10 minutes" }),
  Object.freeze({ value: 3600, label: "1 hour" }),
  Object.freeze({ value: 86400, label: "1 day" }),
  Object.freeze({ value: "custom", label: "Custom…" }),
]);

const labelOf = (list, value) => list.find((o) => o.value === value)?.label ?? String(value);
export const reasonLabel = (reason) => labelOf(REPORT_REASONS, reason);
export const actionLabel = (action) => labelOf(RESOLVE_ACTIONS, action);

/** A slow_mode value as the settings say it ("Off", "30 s", "2 min", or seconds). */
export function slowModeLabel(seconds) {
  if (seconds == null) return "Off";
  const known = SLOW_MODE_CHOICES.find((o) => o.value === seconds);
  if (known) return known.label;
  return seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
}

/** The select's options: the fixed choices, plus the chat's current value when it is another. */
export function slowModeOptions(current) {
  const list = [...SLOW_MODE_CHOICES];
  if (current != null && !list.some((o) => o.value === current)) list.push({ value: current, label: slowModeLabel(current) });
  return list;
}

/** A select's value ("" for off) as the PATCH body's slow_mode. */
export function slowModeFromSelect(value) {
  if (value === "" || value == null) return null;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > SLOW_MODE_MAX) throw new RangeError("slow mode is 1 s to a day");
  return n;
}

// ------------------------------------------------------------ request bodies

function trimmedNote(text, what) {
  const t = (text ?? "").trim();
  if (!t) return null;
  if (t.length > NOTE_MAX) return { error: `${what} is at most ${NOTE_MAX} characters` };
  return t;
}

/** A body of one required choice and an optional note: {body} or {errors: {field: text}}. */
function choiceWithNote({ field, value, choices, pick, noteField, note, noteName }) {
  const errors = {};
  if (!choices.some((o) => o.value === value)) errors[field] = pick;
  const n = trimmedNote(note, noteName);
  if (n && n.error) errors[noteField] = n.error;
  if (Object.keys(errors).length) return { errors };
  const body = { [field]: value };
  if (n) body[noteField] = n;
  return { body };
}

/** POST /messages/{id}/report: {body} or {errors: {field: text}}. */
export function reportRequest(reason, comment) {
  return choiceWithNote({
    field: "reason", value: reason, choices: REPORT_REASONS, pick: "Pick a reason",
    noteField: "comment", note: comment, noteName: "A comment",
  });
}

/** POST /admin/reports/{id}/resolve: {body} or {errors}. */
export function resolveRequest(action, note) {
  return choiceWithNote({
    field: "action", value: action, choices: RESOLVE_ACTIONS, pick: "Pick an action",
    noteField: "note", note, noteName: "A note",
  });
}

/** A datetime-local value ("YYYY-MM-DDTHH:MM", local time) as ISO, or null when empty/bad. */
export function localToIso(value) {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/**
 * PUT /chats/{id}/members/{uid}/mute: {body} or {errors}. `choice` is a MUTE_CHOICES value or
 * "unmute" (an `until` already past, which the server reads as unmuting).
 */
export function muteRequest(choice, { now = Date.now(), custom = "" } = {}) {
  if (choice === "unmute") return { body: { until: new Date(now - 1000).toISOString() } };
  if (choice === "custom") {
    const iso = localToIso(custom);
    if (!iso) return { errors: { until: "Pick a date and time" } };
    if (Date.parse(iso) <= now) return { errors: { until: "Pick a time in the future" } };
    return { body: { until: iso } };
  }
  const seconds = Number(choice);
  if (!Number.isInteger(seconds) || seconds <= 0) return { errors: { until: "Pick how long" } };
  return { body: { until: new Date(now + seconds * 1000).toISOString() } };
}

/** PUT /chats/{id}/bans/{uid}: {body} or {errors}; an empty `until` bans for good. */
export function banRequest({ until = "", reason = "" } = {}, now = Date.now()) {
  const errors = {};
  const body = {};
  if (until) {
    const iso = localToIso(until);
    if (!iso) errors.until = "Pick a date and time";
    else if (Date.parse(iso) <= now) errors.until = "Pick a time in the future (or none: for good)";
    else body.until = iso;
  }
  const r = trimmedNote(reason, "A reason");
  if (r && r.error) errors.reason = r.error;
  else if (r) body.reason = r;
  if (Object.keys(errors).length) return { errors };
  return { body };
}

// ------------------------------------------------------------ who may do what

const RANK = { owner: 3, admin: 2, member: 1 };

export function roleIn(chat, userId) {
  return (chat?.members || []).find((m) => m.user_id === userId)?.role ?? null;
}

/** A group's owner and admins set slow mode and see the bans. */
export function canModerateChat(chat, me) {
  if (!chat || chat.type !== "group") return false;
  const role = roleIn(chat, me);
  return role === "owner" || role === "admin";
}

/** Ban or mute `target`: only over a lower role (an admin over members, the owner over anyone else). */
export function canModerateMember(chat, me, target) {
  if (!canModerateChat(chat, me) || me === target) return false;
  const mine = RANK[roleIn(chat, me)] || 0;
  const theirs = RANK[roleIn(chat, target)] || 0;
  return theirs > 0 && theirs < mine;
}

/** The member's send block (mute) end as a Date while it lies ahead, else null. */
export function blockedUntil(member, now = Date.now()) {
  const until = member?.send_blocked_until;
  if (!until) return null;
  const t = Date.parse(until);
  return Number.isFinite(t) && t > now ? new Date(t) : null;
}

// ------------------------------------------------------------ refused sends

/**
 * Why the server refused a send, edit or reaction, for the composer: {kind: "muted", until}
 * (forbidden with details.until: REST 403, or a WebSocket error frame), {kind: "slow",
 * seconds} (rate_limited in a chat with slow mode, or saying so; REST Retry-After, else
 * details.retry_after) or {kind: "rate", seconds} (the sender's own rate limit), with the text
 * to show; null for any other error. `fmt` formats a Date for people.
 */
export function sendRefusal(err, { fmt = (d) => d.toLocaleString(), slowMode = null } = {}) {
  if (!err) return null;
  if (err.code === "forbidden" && (err.status == null || err.status === 403) && err.details?.until) {
    const until = new Date(err.details.until);
    if (!Number.isNaN(until.getTime())) return { kind: "muted", until, text: `You are muted until ${fmt(until)}` };
  }
  if (err.code === "rate_limited" || err.status === 429) {
    const seconds = Math.max(1, Math.ceil(Number(err.retryAfter ?? err.details?.retry_after) || 1));
    if (slowMode || /slow mode/i.test(err.message || "")) return { kind: "slow", seconds, text: `Slow mode: wait ${seconds} s` };
    return { kind: "rate", seconds, text: `Too many messages: wait ${seconds} s` };
  }
  return null;
}

// ------------------------------------------------------------ the admin's report queue

export function createReportsState() {
  return {
    open: new Map(), // report id -> AdminReport (or a frame's Report, message unknown)
    resolved: new Set(), // ids resolved: never open again
    fresh: new Set(), // ids that arrived live and are not yet seen (the notice)
  };
}

export function resetReportsState(state) {
  state.open.clear();
  state.resolved.clear();
  state.fresh.clear();
}

/** Stores one report; a resolved one leaves the open list for good. Returns true if listed. */
export function upsertReport(state, report) {
  const id = report?.id;
  if (id == null) return false;
  if (report.status === "resolved") {
    state.resolved.add(id);
    state.open.delete(id);
    state.fresh.delete(id);
    return false;
  }
  if (state.resolved.has(id)) return false;
  const before = state.open.get(id);
  // A frame's Report has no `message` key: keep what a page told about the message.
  const merged = { ...(before || {}), ...report };
  if (!("message" in report) && before && "message" in before) merged.message = before.message;
  state.open.set(id, merged);
  return true;
}

/** A GET /admin/reports?status=open page (items newest first): the open list is replaced. */
export function applyReportPage(state, page) {
  const items = page?.items || [];
  const seen = new Set();
  for (const r of items) {
    if (upsertReport(state, r)) seen.add(r.id);
  }
  for (const id of [...state.open.keys()]) {
    if (!seen.has(id) && !state.fresh.has(id)) state.open.delete(id);
  }
}

/** The `admin_report` frame {report}. Returns the report when it is new to the list, else null. */
export function applyAdminReport(state, data) {
  const report = data?.report;
  if (!report || report.id == null) return null;
  const isNew = !state.open.has(report.id);
  if (!upsertReport(state, report)) return null;
  if (!isNew) return null;
  state.fresh.add(report.id);
  return state.open.get(report.id);
}

/** Our resolve answer (a Report with status resolved) or just the id. */
export function markResolved(state, reportOrId) {
  const id = typeof reportOrId === "object" ? reportOrId?.id : reportOrId;
  if (id == null) return false;
  state.resolved.add(id);
  state.fresh.delete(id);
  return state.open.delete(id);
}

/** Open reports, newest first (created_at, then id). */
export function sortedReports(state) {
  return [...state.open.values()].sort((a, b) => {
    const ta = Date.parse(a.created_at) || 0;
    const tb = Date.parse(b.created_at) || 0;
    return tb - ta || b.id - a.id;
  });
}

/**
 * What a queue row shows. `text` is the reported message's content; "gone" once the server
 * says the message is null or deleted; null while unknown (a live frame: a page fills it).
 */
export function reportRow(report) {
  let text = null;
  if ("message" in report) {
    const m = report.message;
    text = !m || m.is_deleted ? "gone" : m.content || "(no text)";
  }
  return {
    id: report.id,
    reason: reasonLabel(report.reason),
    comment: report.comment || "",
    reporter: report.reporter_id,
    chat: report.chat_id,
    messageId: report.message_id,
    text,
    fresh: false,
  };
}
