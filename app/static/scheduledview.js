// Scheduled messages in the page (contract v1.2): the composer's "send later" bar (a
// datetime-local input; while it is open the composer schedules instead of sending), and the
// open chat's Scheduled list (the caller's pending messages, soonest first) with edit and
// cancel, kept live from `scheduled_updated` and `scheduled_failed`. The state and its merge
// rules are scheduled.js; app.js owns the composer's text, files and reply and calls
// schedule() with them.

import { api, describeError } from "./api.js";
import { fieldErrors } from "./bots.js";
import {
  applyScheduledFailed as applyFailedTo,
  applyScheduledPage,
  applyScheduledUpdated as applyUpdatedTo,
  beginLoad,
  createScheduledState,
  removeScheduled,
  resetScheduledState,
  scheduledChanges,
  scheduledFor,
  sendAtFromInput,
  toLocalInput,
  upsertScheduled,
} from "./scheduled.js";
import { $, h } from "./views.js";

const DEFAULT_AHEAD_MS = 60 * 60 * 1000; // the bar opens one hour ahead
const MAX_PAGES = 20;

/** A scheduled time as people read it: the day when not today, to the second. */
function whenText(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const time = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  if (d.toDateString() === new Date().toDateString()) return `today ${time}`;
  return `${d.toLocaleDateString([], { weekday: "short", month: "short", day: "numeric", year: "numeric" })} ${time}`;
}

/** hooks: views (showError, confirmAction, renderSendState), openChatId() */
export function createScheduled(hooks) {
  const { views, openChatId } = hooks;
  const state = createScheduledState();
  const notices = new Map(); // chat id -> [text]: failures not yet dismissed
  const editing = new Set(); // scheduled ids whose edit form is open (kept across redraws)
  let loadRun = 0;

  // ------------------------------------------------------------ the "send later" bar

  function isOpen() {
    return !$("schedule-bar").hidden;
  }

  function openBar() {
    const input = $("schedule-at");
    if (!input.value) input.value = toLocalInput(Date.now() + DEFAULT_AHEAD_MS);
    input.min = toLocalInput(Date.now());
    $("schedule-bar").hidden = false;
    $("schedule-toggle").setAttribute("aria-expanded", "true");
    barError("");
    views.renderSendState();
    input.focus();
  }

  function closeBar({ focus = true } = {}) {
    $("schedule-bar").hidden = true;
    $("schedule-toggle").setAttribute("aria-expanded", "false");
    $("schedule-at").value = "";
    barError("");
    views.renderSendState();
    if (focus) $("message-input").focus();
  }

  function barError(text, err = null) {
    $("schedule-error").textContent = text;
    const bad = err ? "send_at" in fieldErrors(err) : false;
    if (bad) $("schedule-at").setAttribute("aria-invalid", "true");
    else $("schedule-at").removeAttribute("aria-invalid");
  }

  /**
   * Schedules the composer's message in `chatId` at the bar's time: {content, clientMsgId,
   * replyToId, attachmentIds}. Resolves true once the server took it (the bar closes), false
   * when it did not (the bar says why; the composer keeps the text).
   */
  async function schedule(chatId, { content, clientMsgId, replyToId = null, attachmentIds = [] }) {
    const at = sendAtFromInput($("schedule-at").value);
    if (at.error) {
      barError(at.error);
      $("schedule-at").setAttribute("aria-invalid", "true");
      $("schedule-at").focus();
      return false;
    }
    barError("");
    $("scheduled-status").textContent = "";
    const button = $("send-button");
    button.disabled = true;
    try {
      const made = await api.scheduleMessage(chatId, content, at.send_at, clientMsgId, replyToId, attachmentIds);
      // A send_at that passed on the way is sent at once: the answer is then the Message.
      if (made && made.send_at) {
        upsertScheduled(state, made);
        const list = $("scheduled-bar");
        if (made.chat_id === openChatId()) list.open = true;
        render();
      }
      closeBar();
      return true;
    } catch (e) {
      barError(describeError(e), e);
      return false;
    } finally {
      button.disabled = openChatId() == null;
    }
  }

  // ------------------------------------------------------------ the list

  /** Loads the open chat's pending messages (every page); a later call supersedes it. */
  async function load(chatId) {
    const run = ++loadRun;
    if (chatId == null) return;
    const since = beginLoad(state);
    const seen = new Set();
    let cursor = null;
    try {
      for (let i = 0; i < MAX_PAGES; i++) {
        const page = await api.scheduled(chatId, cursor);
        if (run !== loadRun) return;
        cursor = page.next_cursor || null;
        applyScheduledPage(state, chatId, page.items || [], since, { complete: !cursor, seen });
        if (!cursor) break;
      }
      render();
    } catch (e) {
      if (run === loadRun) $("scheduled-status").textContent = `Could not load scheduled messages: ${describeError(e)}`;
    }
  }

  /** A chat was opened (or null: closed): its list is drawn and fetched again. */
  function chatOpened(chatId) {
    editing.clear();
    $("scheduled-status").textContent = "";
    render();
    load(chatId);
  }

  function render() {
    const chatId = openChatId();
    const bar = $("scheduled-bar");
    const list = $("scheduled-list");
    const items = chatId == null ? [] : scheduledFor(state, chatId);
    const chatNotices = chatId == null ? [] : notices.get(chatId) || [];
    bar.hidden = chatId == null || (!items.length && !chatNotices.length);
    $("scheduled-count").textContent = String(items.length);
    $("scheduled-notices").replaceChildren(
      ...chatNotices.map((text, i) => {
        const dismiss = h("button", { type: "button", class: "link", "data-testid": "scheduled-notice-dismiss", "aria-label": "Dismiss" }, "✕");
        dismiss.addEventListener("click", () => {
          const left = (notices.get(chatId) || []).filter((_, j) => j !== i);
          if (left.length) notices.set(chatId, left);
          else notices.delete(chatId);
          render();
        });
        return h("li", { class: "scheduled-notice", "data-testid": "scheduled-notice", role: "alert" }, h("span", {}, text), dismiss);
      }),
    );
    // Items keep their element (an open edit form survives a redraw of the others).
    const existing = new Map([...list.children].map((li) => [Number(li.dataset.scheduledId), li]));
    const wanted = items.map((s) => {
      let li = existing.get(s.id);
      const sig = JSON.stringify([s.content, s.send_at, (s.attachment_ids || []).length, s.reply_to_id]);
      if (!li) li = h("li", { class: "scheduled-item", "data-testid": "scheduled-item", "data-scheduled-id": s.id });
      if (li.dataset.sig !== sig && !editing.has(s.id)) {
        li.dataset.sig = sig;
        fillItem(li, s);
      }
      return li;
    });
    for (const id of editing) if (!items.some((s) => s.id === id)) editing.delete(id);
    list.replaceChildren(...wanted);
  }

  function fillItem(li, s) {
    const files = (s.attachment_ids || []).length;
    const edit = h("button", { type: "button", class: "link", "data-testid": "scheduled-edit", "aria-label": `Edit the message scheduled for ${whenText(s.send_at)}` }, "Edit");
    const cancel = h("button", { type: "button", class: "link danger-link", "data-testid": "scheduled-cancel", "aria-label": `Cancel the message scheduled for ${whenText(s.send_at)}` }, "Cancel");
    edit.addEventListener("click", () => startEdit(li, s.id));
    cancel.addEventListener("click", () => cancelScheduled(s.id, cancel));
    const parts = [
      h("time", { class: "scheduled-time", "data-testid": "scheduled-time", datetime: s.send_at, title: new Date(s.send_at).toLocaleString() }, whenText(s.send_at)),
      h("span", { class: "scheduled-content", "data-testid": "scheduled-content" }, s.content || (files ? "" : "(empty)")),
      files ? h("span", { class: "hint" }, ` 📎 ${files}`) : null,
      s.reply_to_id != null ? h("span", { class: "hint" }, " (a reply)") : null,
      h("span", { class: "scheduled-actions" }, edit, cancel),
    ];
    li.replaceChildren(...parts.filter(Boolean)); // replaceChildren would write a null as "null"
  }

  async function cancelScheduled(id, button) {
    if (!(await views.confirmAction("Cancel this scheduled message? It will not be sent.", "Cancel it"))) return;
    button.disabled = true;
    try {
      await api.cancelScheduled(id);
      removeScheduled(state, id);
      render();
      $("scheduled-status").textContent = "Scheduled message cancelled.";
    } catch (e) {
      button.disabled = false;
      if (e.status === 404) {
        // Sent or cancelled meanwhile: the list catches up.
        removeScheduled(state, id);
        render();
      }
      views.showError(`Could not cancel: ${describeError(e)}`);
    }
  }

  function startEdit(li, id) {
    const s = state.items.get(id)?.scheduled;
    if (!s) return;
    editing.add(id);
    const contentId = `scheduled-edit-content-${id}`;
    const atId = `scheduled-edit-at-${id}`;
    const content = h("textarea", { id: contentId, "data-testid": "scheduled-edit-content", rows: 2, maxlength: 4096 });
    content.value = s.content || "";
    const at = h("input", { id: atId, type: "datetime-local", step: 1, "data-testid": "scheduled-edit-at" });
    at.value = toLocalInput(s.send_at);
    at.min = toLocalInput(Date.now());
    const error = h("p", { class: "error", role: "alert", "data-testid": "scheduled-edit-error" });
    const save = h("button", { type: "submit", "data-testid": "scheduled-edit-save" }, "Save");
    const back = h("button", { type: "button", class: "secondary", "data-testid": "scheduled-edit-cancel" }, "Keep as it was");
    const form = h(
      "form",
      { class: "scheduled-edit", novalidate: true },
      h("label", { for: contentId }, "Message"),
      content,
      h("div", { class: "row wrap" }, h("label", { for: atId }, "Send at"), at, save, back),
      error,
    );
    const stop = () => {
      editing.delete(id);
      delete li.dataset.sig;
      render();
    };
    back.addEventListener("click", stop);
    form.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape") {
        ev.preventDefault();
        stop();
      }
    });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      error.textContent = "";
      at.removeAttribute("aria-invalid");
      const current = state.items.get(id)?.scheduled;
      if (!current) {
        stop();
        return;
      }
      const change = scheduledChanges(current, { content: content.value, when: at.value });
      if (change.error) {
        error.textContent = change.error;
        return;
      }
      if (!change.body) {
        stop();
        return;
      }
      save.disabled = true;
      try {
        upsertScheduled(state, await api.updateScheduled(id, change.body));
        stop();
      } catch (e) {
        error.textContent = describeError(e);
        if ("send_at" in fieldErrors(e)) at.setAttribute("aria-invalid", "true");
        if (e.status === 404) {
          removeScheduled(state, id);
          stop();
          views.showError("That message was already sent or cancelled.");
        }
      } finally {
        save.disabled = false;
      }
    });
    li.replaceChildren(form);
    content.focus();
  }

  // ------------------------------------------------------------ events

  function applyScheduledUpdated(data) {
    const change = applyUpdatedTo(state, data);
    if (change && (change.chatId == null || change.chatId === openChatId())) render();
  }

  function applyScheduledFailed(data) {
    const failed = applyFailedTo(state, data);
    if (!failed) return;
    $("scheduled-status").textContent = "";
    const text = failed.content ? `${failed.text} (“${failed.content.slice(0, 60)}”)` : failed.text;
    if (failed.chatId != null) notices.set(failed.chatId, [...(notices.get(failed.chatId) || []), text]);
    views.showError(text);
    render();
  }

  /** After a reconnect or resync: events may have been missed beyond the replay. */
  function reload() {
    load(openChatId());
  }

  // ------------------------------------------------------------ wiring

  function wire() {
    $("schedule-toggle").addEventListener("click", () => (isOpen() ? closeBar() : openBar()));
    $("schedule-close").addEventListener("click", () => closeBar());
    $("schedule-at").addEventListener("input", () => barError(""));
    $("schedule-at").addEventListener("keydown", (ev) => {
      if (ev.key === "Escape") {
        ev.preventDefault();
        closeBar();
      } else if (ev.key === "Enter") {
        ev.preventDefault();
        $("composer").requestSubmit();
      }
    });
  }

  function clear() {
    loadRun++;
    resetScheduledState(state);
    notices.clear();
    editing.clear();
    $("scheduled-list").replaceChildren();
    $("scheduled-notices").replaceChildren();
    $("scheduled-status").textContent = "";
    $("scheduled-bar").hidden = true;
    closeBar({ focus: false });
  }

  return { wire, clear, isOpen, closeBar, schedule, chatOpened, reload, applyScheduledUpdated, applyScheduledFailed, state };
}
