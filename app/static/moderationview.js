// Moderation on the page (contract v1.2, Moderation): the Report form on a message, the
// Reports dialog for server admins (live from `admin_report` frames), and the chat settings'
// moderation controls for a group's owner and admins (slow mode, ban, mute, the bans list),
// plus the composer's notice when a send is refused (muted, slow mode). State, request bodies
// and merge rules are moderation.js; app.js wires the actions and hands over the frames.

import { describeError, request, requestWithStatus } from "./api.js";
import {
  applyAdminReport,
  applyReportPage,
  banRequest,
  blockedUntil,
  canModerateChat,
  canModerateMember,
  createReportsState,
  markResolved,
  MUTE_CHOICES,
  muteRequest,
  REPORT_REASONS,
  reportRequest,
  reportRow,
  resetReportsState,
  RESOLVE_ACTIONS,
  resolveRequest,
  sendRefusal,
  slowModeFromSelect,
  slowModeLabel,
  slowModeOptions,
  sortedReports,
} from "./moderation.js";
import { $, h } from "./views.js";

const enc = encodeURIComponent;
const fmtLong = (d) => d.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });

/** The REST calls of the moderation section of the contract. */
export const moderationApi = {
  /** {status, body}: 201 a new report, 200 the caller's earlier one on this message. */
  report: (messageId, body) => requestWithStatus("POST", `/messages/${enc(messageId)}/report`, body),
  reports: (status = "open") => request("GET", `/admin/reports?status=${enc(status)}&limit=100`),
  resolve: (reportId, body) => request("POST", `/admin/reports/${enc(reportId)}/resolve`, body),
  ban: (chatId, userId, body) => request("PUT", `/chats/${enc(chatId)}/bans/${enc(userId)}`, body),
  unban: (chatId, userId) => request("DELETE", `/chats/${enc(chatId)}/bans/${enc(userId)}`),
  bans: (chatId) => request("GET", `/chats/${enc(chatId)}/bans?limit=100`),
  mute: (chatId, userId, body) => request("PUT", `/chats/${enc(chatId)}/members/${enc(userId)}/mute`, body),
  slowMode: (chatId, seconds) => request("PATCH", `/chats/${enc(chatId)}`, { slow_mode: seconds }),
};

/**
 * hooks: views (showError, announce), me() (the signed-in user or null), chat(id),
 * openChatId(), applyChat(chat) (a Chat answer into the store), memberName(chat, userId).
 */
export function createModeration(hooks) {
  const { views } = hooks;
  const reports = createReportsState();
  let reportsRun = 0;
  let reportFor = null; // the message the Report form is about

  // ------------------------------------------------------------ the Report form

  const reportDialog = h("dialog", { class: "report-dialog", id: "report-dialog", "data-testid": "report-dialog", "aria-labelledby": "report-title" });
  const reasonSelect = h("select", { id: "report-reason", "data-testid": "report-reason" },
    REPORT_REASONS.map((o) => h("option", { value: o.value }, o.label)));
  const commentInput = h("textarea", { id: "report-comment", "data-testid": "report-comment", rows: 3, maxlength: 1000, placeholder: "Optional: what is wrong with it" });
  const reportSubmit = h("button", { type: "submit", "data-testid": "report-submit" }, "Report");
  const reportStatus = h("p", { class: "hint", role: "status", "data-testid": "report-status" });
  const reportError = h("p", { class: "error", role: "alert", "data-testid": "report-error" });
  const reportQuote = h("blockquote", { class: "report-quote", "data-testid": "report-quote" });

  function buildReportDialog() {
    const close = h("button", { type: "button", class: "secondary", "data-testid": "report-close" }, "Close");
    close.addEventListener("click", () => reportDialog.close());
    const form = h("form", { novalidate: true },
      h("h2", { id: "report-title" }, "Report message"),
      reportQuote,
      h("div", { class: "row" }, h("label", { for: "report-reason" }, "Reason"), reasonSelect),
      h("label", { for: "report-comment" }, "Comment"),
      commentInput,
      reportError,
      reportStatus,
      h("div", { class: "row end" }, close, reportSubmit),
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      submitReport();
    });
    reportDialog.replaceChildren(form);
  }

  function openReport(message) {
    if (!message || message.id == null) return;
    reportFor = message;
    reasonSelect.value = "spam";
    commentInput.value = "";
    reportError.textContent = "";
    reportStatus.textContent = "";
    reportSubmit.disabled = false;
    reportQuote.textContent = message.content || "(no text)";
    if (!reportDialog.open) reportDialog.showModal();
    reasonSelect.focus();
  }

  async function submitReport() {
    const target = reportFor;
    if (!target) return;
    reportError.textContent = "";
    reportStatus.textContent = "";
    const { body, errors } = reportRequest(reasonSelect.value, commentInput.value);
    if (errors) {
      reportError.textContent = Object.values(errors).join(". ");
      return;
    }
    reportSubmit.disabled = true;
    try {
      const { status } = await moderationApi.report(target.id, body);
      const repeat = status === 200; // a repeat answers the first report, 200 instead of 201
      reportStatus.textContent = repeat
        ? "You already reported this message; the administrators have it."
        : "Reported. Thank you: the administrators will look at it.";
      reportStatus.dataset.kind = repeat ? "repeat" : "created";
    } catch (e) {
      reportError.textContent = `Could not report: ${describeError(e)}`;
      reportSubmit.disabled = false;
    }
  }

  // ------------------------------------------------------------ the Reports dialog (admins)

  const reportsButton = h("button", { type: "button", class: "secondary reports-button", id: "reports-button", "data-testid": "reports-button", hidden: true },
    "Reports", h("span", { class: "badge", "data-testid": "reports-count", hidden: true }));
  const reportsDialog = h("dialog", { class: "reports-dialog", id: "reports-dialog", "data-testid": "reports-dialog", "aria-labelledby": "reports-title" });
  const reportList = h("ul", { class: "report-list", "data-testid": "report-list", "aria-label": "Open reports" });
  const reportsEmpty = h("p", { class: "hint", "data-testid": "reports-empty", hidden: true }, "No open reports.");
  const reportsError = h("p", { class: "error", role: "alert", "data-testid": "reports-error" });
  const reportsNotice = h("p", { class: "notice", role: "status", "aria-live": "polite", "data-testid": "reports-notice" });

  function buildReportsDialog() {
    const close = h("button", { type: "button", class: "secondary", "data-testid": "reports-close" }, "Close");
    close.addEventListener("click", () => reportsDialog.close());
    const reload = h("button", { type: "button", class: "secondary", "data-testid": "reports-reload" }, "Reload");
    reload.addEventListener("click", () => loadReports());
    reportsDialog.replaceChildren(
      h("header", { class: "row" }, h("h2", { id: "reports-title" }, "Reports"), h("span", { class: "spacer" }), reload, close),
      h("p", { class: "hint" }, "Open reports of messages, newest first. New ones appear here as they are made."),
      reportsNotice,
      reportsError,
      reportsEmpty,
      reportList,
    );
  }

  function updateBadge() {
    const badge = reportsButton.querySelector("[data-testid=reports-count]");
    const n = reports.fresh.size;
    badge.hidden = n === 0;
    badge.textContent = n ? ` ${n}` : "";
    reportsButton.setAttribute("aria-label", n ? `Reports, ${n} new` : "Reports");
  }

  function reportItem(report) {
    const row = reportRow(report);
    const action = h("select", { "data-testid": "resolve-action", "aria-label": "Action" },
      RESOLVE_ACTIONS.map((o) => h("option", { value: o.value }, o.label)));
    const note = h("input", { "data-testid": "resolve-note", "aria-label": "Note (optional)", placeholder: "Note (optional)", maxlength: 1000 });
    const submit = h("button", { type: "submit", "data-testid": "resolve-submit" }, "Resolve");
    const error = h("p", { class: "error", role: "alert", "data-testid": "resolve-error" });
    const form = h("form", { class: "row wrap", novalidate: true }, action, note, submit);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      error.textContent = "";
      const { body, errors } = resolveRequest(action.value, note.value);
      if (errors) {
        error.textContent = Object.values(errors).join(". ");
        return;
      }
      submit.disabled = true;
      try {
        const done = await moderationApi.resolve(row.id, body);
        markResolved(reports, done || row.id);
        renderReports();
        updateBadge();
        views.announce(`Report ${row.id} resolved: ${RESOLVE_ACTIONS.find((o) => o.value === body.action)?.label}`);
      } catch (e) {
        error.textContent = `Could not resolve: ${describeError(e)}`;
        submit.disabled = false;
      }
    });
    return h(
      "li",
      { class: `report-item${reports.fresh.has(row.id) ? " fresh" : ""}`, "data-testid": "report-item", "data-report-id": row.id },
      h("p", {},
        h("strong", { "data-testid": "report-reason" }, row.reason),
        " · reporter ", h("span", { "data-testid": "report-reporter" }, `#${row.reporter}`),
        " · chat ", h("span", { "data-testid": "report-chat" }, `#${row.chat}`),
        " · message ", h("span", {}, `#${row.messageId}`)),
      row.comment ? h("p", { class: "report-comment", "data-testid": "report-comment-text" }, `“${row.comment}”`) : null,
      h("blockquote", { class: `report-message${row.text === "gone" ? " gone" : ""}`, "data-testid": "report-message" },
        row.text == null ? "…" : row.text),
      form,
      error,
    );
  }

  function renderReports() {
    const list = sortedReports(reports);
    reportsEmpty.hidden = list.length > 0;
    reportList.replaceChildren(...list.map(reportItem));
  }

  async function loadReports() {
    const run = ++reportsRun;
    reportsError.textContent = "";
    try {
      const page = await moderationApi.reports("open");
      if (run !== reportsRun) return;
      applyReportPage(reports, page);
      renderReports();
    } catch (e) {
      if (run === reportsRun) reportsError.textContent = `Could not load the reports: ${describeError(e)}`;
    }
  }

  async function openReports() {
    if (!hooks.me()?.is_admin) return;
    if (!reportsDialog.open) reportsDialog.showModal();
    await loadReports();
    reports.fresh.clear();
    updateBadge();
  }

  /** `admin_report` {report}: a new report at the top, with a notice. */
  function applyAdminReportFrame(data) {
    if (!hooks.me()?.is_admin) return;
    const report = applyAdminReport(reports, data);
    if (!report) return;
    const row = reportRow(report);
    const text = `New report: ${row.reason} on message #${row.messageId} in chat #${row.chat}`;
    reportsNotice.textContent = text;
    updateBadge();
    if (reportsDialog.open) {
      renderReports();
      loadReports(); // the message as it is now
    } else {
      views.announce(text);
    }
  }

  /** The signed-in user is known: the Reports button shows for server admins only. */
  function userChanged(me) {
    reportsButton.hidden = !me?.is_admin;
  }

  // ------------------------------------------------------------ composer notice

  const composerNotice = h("p", { class: "error composer-notice", role: "alert", "data-testid": "composer-notice", id: "composer-notice", hidden: true });
  let noticeChat = null;

  function showComposerNotice(chatId, text, kind) {
    noticeChat = chatId;
    composerNotice.textContent = text;
    composerNotice.dataset.kind = kind;
    composerNotice.hidden = chatId !== hooks.openChatId();
  }

  function chatOpened(chatId) {
    if (chatId !== noticeChat) {
      composerNotice.hidden = true;
      composerNotice.textContent = "";
      noticeChat = null;
    }
  }

  /**
   * A send, edit or reaction failed: when a mute or slow mode refused it, the composer says so
   * and the answer is the refusal ({kind, text}); else null.
   */
  function sendRefused(chatId, err) {
    const chat = hooks.chat(chatId);
    const refusal = sendRefusal(err, { fmt: fmtLong, slowMode: chat?.slow_mode ?? null });
    if (refusal) showComposerNotice(chatId, refusal.text, refusal.kind);
    return refusal;
  }

  function sent(chatId) {
    if (chatId === noticeChat) chatOpened(null);
  }

  // ------------------------------------------------------------ chat settings

  async function change(work, error, what) {
    error.textContent = "";
    try {
      const chat = await work();
      if (chat) hooks.applyChat(chat);
      return true;
    } catch (e) {
      error.textContent = `Could not ${what}: ${describeError(e)}`;
      return false;
    }
  }

  /** The settings signature's share: what the moderation controls show. */
  function settingsSig(chat) {
    return [chat.slow_mode ?? null, (chat.members || []).map((m) => m.send_blocked_until ?? null)];
  }

  /** Slow mode and the bans list, for a group's owner and admins; slow mode as text for others. */
  function settingsSections(chat, me) {
    if (!chat || chat.type !== "group") return [];
    const current = chat.slow_mode ?? null;
    const status = h("p", { class: "hint", "data-testid": "slow-mode-status" },
      current ? `Slow mode: each member sends at most once every ${slowModeLabel(current)}.` : "Slow mode is off.");
    if (!canModerateChat(chat, me)) {
      return current ? [h("section", { "aria-label": "Slow mode" }, h("h3", { class: "settings-heading" }, "Slow mode"), status)] : [];
    }
    const selectId = `slow-${chat.id}`;
    const select = h("select", { id: selectId, "data-testid": "slow-mode-select" },
      slowModeOptions(current).map((o) => h("option", { value: o.value == null ? "" : String(o.value), selected: o.value === current }, o.label)));
    select.value = current == null ? "" : String(current);
    const error = h("p", { class: "error", role: "alert", "data-testid": "slow-mode-error" });
    select.addEventListener("change", async () => {
      select.disabled = true;
      const ok = await change(() => moderationApi.slowMode(chat.id, slowModeFromSelect(select.value)), error, "change slow mode");
      if (!ok) select.value = current == null ? "" : String(current);
      select.disabled = false;
    });
    const bansList = h("ul", { class: "ban-list", "data-testid": "ban-list", "aria-label": "Banned users" });
    const bansError = h("p", { class: "error", role: "alert", "data-testid": "bans-error" });
    const bansShow = h("button", { type: "button", class: "secondary", "data-testid": "bans-show" }, "Show bans");
    const loadBans = async () => {
      bansError.textContent = "";
      try {
        const page = await moderationApi.bans(chat.id);
        const items = page?.items || [];
        bansList.replaceChildren(
          ...(items.length ? items.map((b) => banItem(chat, b, loadBans, bansError)) : [h("li", { class: "hint", "data-testid": "bans-empty" }, "Nobody is banned.")]),
        );
      } catch (e) {
        bansError.textContent = `Could not load the bans: ${describeError(e)}`;
      }
    };
    bansShow.addEventListener("click", loadBans);
    return [
      h("section", { "aria-label": "Slow mode" },
        h("h3", { class: "settings-heading" }, "Slow mode"),
        h("div", { class: "row" }, h("label", { for: selectId }, "One message per"), select),
        status,
        h("p", { class: "hint" }, "Owner and admins are not slowed."),
        error),
      h("section", { "aria-label": "Bans", "data-testid": "bans-section" },
        h("h3", { class: "settings-heading" }, "Bans"),
        bansShow, bansError, bansList),
    ];
  }

  function banItem(chat, ban, reload, error) {
    const who = hooks.memberName(chat, ban.user_id) || `user #${ban.user_id}`;
    const unban = h("button", { type: "button", class: "link", "data-testid": "unban-button", "aria-label": `Unban ${who}` }, "Unban");
    unban.addEventListener("click", async () => {
      unban.disabled = true;
      error.textContent = "";
      try {
        await moderationApi.unban(chat.id, ban.user_id);
        await reload();
      } catch (e) {
        error.textContent = `Could not unban: ${describeError(e)}`;
        unban.disabled = false;
      }
    });
    return h("li", { "data-testid": "ban-item", "data-user-id": ban.user_id },
      h("span", {}, who),
      " ",
      h("span", { class: "hint" }, ban.until ? `until ${fmtLong(new Date(ban.until))}` : "for good"),
      ban.reason ? h("span", { class: "hint" }, ` (${ban.reason})`) : null,
      " ",
      unban);
  }

  /** What a member row adds: the muted mark for everyone, the controls for who outranks them. */
  function memberControls(chat, me, member) {
    const out = [];
    const until = blockedUntil(member);
    if (until) out.push(h("span", { class: "muted-mark", "data-testid": "member-muted" }, `muted until ${fmtLong(until)}`));
    if (!canModerateMember(chat, me, member.user_id)) return out;
    const name = hooks.memberName(chat, member.user_id) || member.username;
    const error = h("p", { class: "error", role: "alert", "data-testid": "moderate-error" });

    // Mute
    const muteChoice = h("select", { "data-testid": "mute-choice", "aria-label": `Mute ${name} for` },
      MUTE_CHOICES.map((o) => h("option", { value: String(o.value) }, o.label)));
    const muteCustom = h("input", { type: "datetime-local", "data-testid": "mute-custom", "aria-label": "Mute until", hidden: true });
    muteChoice.addEventListener("change", () => {
      muteCustom.hidden = muteChoice.value !== "custom";
    });
    const muteButton = h("button", { type: "button", class: "secondary", "data-testid": "mute-member" }, "Mute");
    muteButton.addEventListener("click", async () => {
      const choice = muteChoice.value === "custom" ? "custom" : Number(muteChoice.value);
      const { body, errors } = muteRequest(choice, { custom: muteCustom.value });
      if (errors) {
        error.textContent = Object.values(errors).join(". ");
        return;
      }
      muteButton.disabled = true;
      await change(() => moderationApi.mute(chat.id, member.user_id, body), error, "mute");
      muteButton.disabled = false;
    });
    const unmute = until ? h("button", { type: "button", class: "secondary", "data-testid": "unmute-member" }, "Unmute") : null;
    unmute?.addEventListener("click", async () => {
      unmute.disabled = true;
      await change(() => moderationApi.mute(chat.id, member.user_id, muteRequest("unmute").body), error, "unmute");
      unmute.disabled = false;
    });

    // Ban
    const banUntil = h("input", { type: "datetime-local", "data-testid": "ban-until", "aria-label": "Banned until (empty: for good)" });
    const banReason = h("input", { "data-testid": "ban-reason", "aria-label": "Reason (optional)", placeholder: "Reason (optional)", maxlength: 1000 });
    const banButton = h("button", { type: "button", class: "danger", "data-testid": "ban-member" }, "Ban");
    banButton.addEventListener("click", async () => {
      const { body, errors } = banRequest({ until: banUntil.value, reason: banReason.value });
      if (errors) {
        error.textContent = Object.values(errors).join(". ");
        return;
      }
      banButton.disabled = true;
      const ok = await change(() => moderationApi.ban(chat.id, member.user_id, body), error, "ban");
      if (ok) views.announce(`${name} is banned from the group`);
      banButton.disabled = false;
    });

    out.push(
      h("details", { class: "moderate", "data-testid": "moderate-member" },
        h("summary", { "aria-label": `Moderate ${name}` }, "Moderate"),
        h("div", { class: "row wrap" }, h("span", {}, "Mute for"), muteChoice, muteCustom, muteButton, unmute),
        h("div", { class: "row wrap" }, h("span", {}, "Ban until"), banUntil, banReason, banButton),
        h("p", { class: "hint" }, "A ban removes them from the group; with no date it lasts until lifted."),
        error),
    );
    return out;
  }

  // ------------------------------------------------------------ wiring

  function wire() {
    buildReportDialog();
    buildReportsDialog();
    document.body.append(reportDialog, reportsDialog);
    $("bots-button").after(reportsButton);
    reportsButton.addEventListener("click", () => openReports());
    $("composer").before(composerNotice);
  }

  /** The session ended: everything closes and is forgotten. */
  function clear() {
    reportsRun++;
    if (reportDialog.open) reportDialog.close();
    if (reportsDialog.open) reportsDialog.close();
    reportFor = null;
    resetReportsState(reports);
    reportList.replaceChildren();
    reportsNotice.textContent = "";
    reportsButton.hidden = true;
    updateBadge();
    chatOpened(null);
  }

  return {
    wire,
    clear,
    userChanged,
    openReport,
    openReports,
    applyAdminReport: applyAdminReportFrame,
    chatOpened,
    sendRefused,
    sent,
    settingsSig,
    settingsSections,
    memberControls,
    state: reports,
  };
}
