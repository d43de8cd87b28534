// The Bots dialog (contract v1.2, Bots and webhooks): make a bot (its token and webhook secret
// shown once), see each bot's webhook state and latest delivery attempts, change the webhook
// URL, turn it on or off, rotate the token or the secret, rewind, delete. Its state and merge
// rules are bots.js; app.js hands it the `bot_updated` events (applyBotUpdated).

import { api, describeError } from "./api.js";
import {
  applyBotPage,
  applyBotUpdated as applyBotUpdatedTo,
  beginLoad,
  botLabel,
  createBotsState,
  deliveryRow,
  fieldErrors,
  mergeDeliveries,
  newBotRequest,
  removeBot,
  resetBotsState,
  rewindRequest,
  setWebhook,
  sortedBots,
  upsertBot,
  webhookChanges,
  webhookStatus,
} from "./bots.js";
import { $, fmtTime, h } from "./views.js";

const SHOWN_ONCE =
  "Copy it now and keep it somewhere safe: the server keeps no copy it can show again. If it is lost, make a new one.";

/** hooks: views (createViews' answer: showError, confirmAction), isSignedIn() */
export function createBots(hooks) {
  const { views } = hooks;
  const state = createBotsState();
  const cards = new Map(); // bot id -> the card's parts (see buildCard)
  let loadRun = 0;

  const dialog = h("dialog", { class: "bots-dialog", id: "bots-dialog", "data-testid": "bots-dialog", "aria-labelledby": "bots-title" });
  const listEl = h("ul", { class: "bot-list", id: "bot-list", "data-testid": "bot-list", "aria-label": "Your bots" });
  const emptyEl = h("p", { class: "hint", "data-testid": "bots-empty", hidden: true }, "You have no bots yet.");
  const listError = h("p", { class: "error", role: "alert", "data-testid": "bots-error" });
  const secretsEl = h("section", { class: "bot-secrets", "data-testid": "bot-secrets", "aria-live": "polite", hidden: true });

  // ------------------------------------------------------------ errors

  /** The API's error in `where` (its message and the fields it names), the bad inputs marked. */
  function showApiError(where, err, inputs = {}) {
    where.textContent = describeError(err);
    const fields = fieldErrors(err);
    for (const [name, input] of Object.entries(inputs)) {
      const bad = name in fields;
      if (bad) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    }
    const first = Object.keys(inputs).find((name) => name in fields);
    if (first) inputs[first].focus();
  }

  function clearError(where, inputs = {}) {
    where.textContent = "";
    for (const input of Object.values(inputs)) input.removeAttribute("aria-invalid");
  }

  /** Runs `work` with `button` disabled (no double submit). */
  async function busy(button, work) {
    button.disabled = true;
    try {
      return await work();
    } finally {
      button.disabled = false;
    }
  }

  // ------------------------------------------------------------ secrets shown once

  function copyButton(value, testid) {
    const button = h("button", { type: "button", class: "secondary", "data-testid": testid }, "Copy");
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(value);
        button.textContent = "Copied";
      } catch {
        button.textContent = "Select and copy by hand";
      }
    });
    return button;
  }

  function secretRow(label, value, testid) {
    return h(
      "div",
      { class: "secret-row" },
      h("span", { class: "secret-label" }, label),
      h("code", { class: "secret-value", "data-testid": `${testid}-value`, tabindex: 0 }, value),
      copyButton(value, `${testid}-copy`),
    );
  }

  /** The token and/or secret just made for `bot`, with the note that this is the only time. */
  function revealSecrets(bot, { token, webhook_secret: secret, why }) {
    const dismiss = h("button", { type: "button", "data-testid": "bot-secrets-dismiss" }, "I have saved it");
    dismiss.addEventListener("click", () => {
      secretsEl.hidden = true;
      secretsEl.replaceChildren();
    });
    secretsEl.dataset.botId = String(bot.id);
    const parts = [
      h("h3", {}, `${why} for ${botLabel(bot)}`),
      h("p", { class: "shown-once", "data-testid": "bot-secrets-note", role: "note" }, h("strong", {}, "Shown only now. "), SHOWN_ONCE),
      token ? secretRow("Token", token, "bot-token") : null,
      secret ? secretRow("Webhook secret", secret, "bot-secret") : null,
      token ? h("p", { class: "hint" }, "The bot sends it as Authorization: Bearer <token>; it does not expire.") : null,
      secret ? h("p", { class: "hint" }, "Your receiver checks X-Messenger-Signature: HMAC-SHA256 with this secret over \"<t>.<raw body>\".") : null,
      h("div", { class: "row end" }, dismiss),
    ];
    secretsEl.replaceChildren(...parts.filter(Boolean)); // a null would be written as "null"
    secretsEl.hidden = false;
    secretsEl.scrollIntoView?.({ block: "nearest" });
  }

  // ------------------------------------------------------------ the create form

  function createForm() {
    const username = h("input", { id: "bot-username", "data-testid": "bot-username", autocomplete: "off", autocapitalize: "none", spellcheck: "false", maxlength: 32, required: true });
    const displayName = h("input", { id: "bot-display-name", "data-testid": "bot-display-name", autocomplete: "off", maxlength: 64 });
    const webhookUrl = h("input", { id: "bot-webhook-url", "data-testid": "bot-webhook-url", type: "url", autocomplete: "off", spellcheck: "false", placeholder: "https://example.com/hook" });
    const error = h("p", { class: "error", role: "alert", "data-testid": "bot-create-error" });
    const submit = h("button", { type: "submit", "data-testid": "bot-create-submit" }, "Create bot");
    const inputs = { username, display_name: displayName, webhook_url: webhookUrl };
    const form = h(
      "form",
      { class: "bot-create", "data-testid": "bot-create-form", novalidate: true },
      h("div", { class: "field" }, h("label", { for: "bot-username" }, "Username"), username,
        h("small", { class: "hint" }, "3 to 32 letters, digits, _ . or -; a bot's username is taken like a person's.")),
      h("div", { class: "field" }, h("label", { for: "bot-display-name" }, "Display name (optional)"), displayName),
      h("div", { class: "field" }, h("label", { for: "bot-webhook-url" }, "Webhook URL (optional)"), webhookUrl,
        h("small", { class: "hint" }, "The bot's inbox is POSTed here. https:// and a public address; empty: the bot reads over the API itself.")),
      error,
      submit,
    );
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearError(error, inputs);
      const request = newBotRequest({ username: username.value, displayName: displayName.value, webhookUrl: webhookUrl.value });
      if (request.error) {
        error.textContent = request.error;
        inputs[request.field]?.setAttribute("aria-invalid", "true");
        inputs[request.field]?.focus();
        return;
      }
      await busy(submit, async () => {
        try {
          const made = await api.createBot(request.body);
          const entry = upsertBot(state, { bot: made.bot, webhook: made.webhook });
          form.reset();
          renderList();
          // The secret is made with every bot: it signs deliveries once a webhook URL is set.
          revealSecrets(entry.bot, { token: made.token, webhook_secret: made.webhook_secret, why: "New bot: its token and webhook secret" });
          // POST /bots answers the bot without its Webhook: the list brings it.
          if (request.body.webhook_url) loadBots();
        } catch (e) {
          showApiError(error, e, inputs);
        }
      });
    });
    return form;
  }

  // ------------------------------------------------------------ one bot's card

  function buildCard(id) {
    const li = h("li", { class: "bot", "data-testid": "bot", "data-bot-id": id });
    const title = h("h3", { class: "bot-name", "data-testid": "bot-name" });
    const idEl = h("span", { class: "hint bot-id" });
    const stateEl = h("dl", { class: "webhook-state", "data-testid": "webhook-state" });
    const status = h("p", { class: "hint", role: "status", "data-testid": "bot-status" });
    const error = h("p", { class: "error", role: "alert", "data-testid": "bot-error" });

    // Webhook URL and on/off.
    const urlId = `webhook-url-${id}`;
    const url = h("input", { id: urlId, type: "url", "data-testid": "webhook-url-input", autocomplete: "off", spellcheck: "false", placeholder: "https://example.com/hook (empty: no webhook)" });
    const enabled = h("input", { type: "checkbox", "data-testid": "webhook-enabled" });
    const save = h("button", { type: "submit", "data-testid": "webhook-save" }, "Save webhook");
    const webhookForm = h(
      "form",
      { class: "webhook-form", novalidate: true },
      h("label", { for: urlId }, "Webhook URL"),
      h("div", { class: "row" }, url, h("label", { class: "check" }, enabled, " Enabled"), save),
    );
    url.addEventListener("input", () => (url.dataset.dirty = "true"));
    enabled.addEventListener("change", () => (enabled.dataset.dirty = "true"));
    webhookForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const entry = state.bots.get(id);
      if (!entry) return;
      clearError(error, { webhook_url: url });
      const change = webhookChanges(entry.webhook, { url: url.value, enabled: enabled.checked });
      if (change.error) {
        error.textContent = change.error;
        return;
      }
      if (!change.body) {
        status.textContent = "Nothing to save.";
        return;
      }
      await busy(save, async () => {
        try {
          const answer = await api.updateBot(id, change.body);
          delete url.dataset.dirty;
          delete enabled.dataset.dirty;
          upsertBot(state, answer);
          status.textContent = change.body.webhook_url === null ? "Webhook removed." : "Webhook saved.";
          renderList();
        } catch (e) {
          showApiError(error, e, { webhook_url: url, webhook_enabled: enabled });
        }
      });
    });

    // Rewind.
    const rewindId = `rewind-${id}`;
    const rewindInput = h("input", { id: rewindId, "data-testid": "rewind-input", inputmode: "numeric", pattern: "[0-9]*", class: "rewind-input", placeholder: "inbox_seq" });
    const rewindButton = h("button", { type: "submit", class: "secondary", "data-testid": "rewind-submit" }, "Rewind");
    const rewindForm = h(
      "form",
      { class: "rewind-form row", novalidate: true },
      h("label", { for: rewindId }, "Deliver again after inbox_seq"),
      rewindInput,
      rewindButton,
    );
    rewindForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearError(error, { inbox_seq: rewindInput });
      const request = rewindRequest(rewindInput.value);
      if (request.error) {
        error.textContent = request.error;
        rewindInput.setAttribute("aria-invalid", "true");
        return;
      }
      await busy(rewindButton, async () => {
        try {
          const webhook = await api.rewindWebhook(id, request.body.inbox_seq);
          setWebhook(state, id, webhook);
          rewindInput.value = "";
          status.textContent = `Deliveries start again after inbox_seq ${request.body.inbox_seq}.`;
          renderList();
        } catch (e) {
          showApiError(error, e, { inbox_seq: rewindInput });
        }
      });
    });

    // Token, secret, delete.
    const rotateToken = h("button", { type: "button", class: "secondary", "data-testid": "bot-rotate-token" }, "New token");
    rotateToken.addEventListener("click", async () => {
      const entry = state.bots.get(id);
      if (!entry) return;
      if (!(await views.confirmAction(`Give ${botLabel(entry.bot)} a new token? The old one stops at once and its connections close.`, "New token"))) return;
      clearError(error);
      await busy(rotateToken, async () => {
        try {
          const { token } = await api.rotateBotToken(id);
          status.textContent = "New token made; the old one no longer works.";
          revealSecrets(entry.bot, { token, why: "New token" });
        } catch (e) {
          showApiError(error, e);
        }
      });
    });
    const rotateSecret = h("button", { type: "button", class: "secondary", "data-testid": "bot-rotate-secret" }, "New webhook secret");
    rotateSecret.addEventListener("click", async () => {
      const entry = state.bots.get(id);
      if (!entry) return;
      if (!(await views.confirmAction(`Give ${botLabel(entry.bot)} a new webhook secret? Deliveries are signed with it from now on.`, "New secret"))) return;
      clearError(error);
      await busy(rotateSecret, async () => {
        try {
          const { webhook_secret } = await api.rotateWebhookSecret(id);
          status.textContent = "New webhook secret made.";
          revealSecrets(entry.bot, { webhook_secret, why: "New webhook secret" });
        } catch (e) {
          showApiError(error, e);
        }
      });
    });
    const remove = h("button", { type: "button", class: "danger", "data-testid": "bot-delete" }, "Delete bot");
    remove.addEventListener("click", async () => {
      const entry = state.bots.get(id);
      if (!entry) return;
      if (!(await views.confirmAction(`Delete ${botLabel(entry.bot)} for good? It leaves every chat; its token and webhook end.`, "Delete bot"))) return;
      clearError(error);
      await busy(remove, async () => {
        try {
          await api.deleteBot(id);
          removeBot(state, id);
          if (secretsEl.dataset.botId === String(id)) {
            secretsEl.hidden = true;
            secretsEl.replaceChildren();
          }
          renderList();
        } catch (e) {
          showApiError(error, e);
        }
      });
    });

    // Deliveries, loaded when opened.
    const table = h("table", { class: "deliveries", "data-testid": "deliveries-table" },
      h("caption", { class: "visually-hidden" }, "Latest delivery attempts, newest first"),
      h("thead", {}, h("tr", {}, ...["When", "Events", "Status", "Attempt", "Duration", "Error"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}),
    );
    const deliveriesEmpty = h("p", { class: "hint", "data-testid": "deliveries-empty", hidden: true }, "No delivery attempts yet.");
    const deliveriesError = h("p", { class: "error", role: "alert", "data-testid": "deliveries-error" });
    const refresh = h("button", { type: "button", class: "secondary", "data-testid": "deliveries-refresh" }, "Refresh");
    const older = h("button", { type: "button", class: "secondary", "data-testid": "deliveries-more", hidden: true }, "Older attempts");
    const deliveries = h(
      "details",
      { class: "deliveries-box", "data-testid": "deliveries" },
      h("summary", { "data-testid": "deliveries-toggle" }, "Deliveries"),
      h("div", { class: "table-scroll" }, table),
      deliveriesEmpty,
      deliveriesError,
      h("div", { class: "row" }, refresh, older),
    );
    deliveries.addEventListener("toggle", () => {
      if (deliveries.open) loadDeliveries(id, { fresh: true });
    });
    refresh.addEventListener("click", () => busy(refresh, () => loadDeliveries(id, { fresh: true })));
    older.addEventListener("click", () => busy(older, () => loadDeliveries(id, { more: true })));

    li.append(
      h("header", { class: "row bot-head" }, title, idEl),
      stateEl,
      webhookForm,
      rewindForm,
      h("div", { class: "row wrap bot-actions" }, rotateToken, rotateSecret, h("span", { class: "spacer" }), remove),
      status,
      error,
      deliveries,
    );
    return { li, title, idEl, stateEl, url, enabled, deliveries, table, deliveriesEmpty, deliveriesError, older };
  }

  function stateRow(label, value, testid, extra = {}) {
    return [h("dt", {}, label), h("dd", { "data-testid": testid, ...extra }, value === "" || value == null ? "—" : String(value))];
  }

  function renderCard(card, entry) {
    const { bot, webhook } = entry;
    card.li.dataset.username = bot.username || "";
    card.title.textContent = botLabel(bot);
    card.idEl.textContent = `id ${bot.id}`;
    const st = webhookStatus(webhook);
    card.li.dataset.webhook = st.kind;
    const badge = h("span", { class: `webhook-badge webhook-${st.kind}`, "data-testid": "webhook-status", "data-kind": st.kind }, st.text);
    card.stateEl.replaceChildren(
      h("dt", {}, "Webhook"),
      h("dd", {}, badge),
      ...(webhook
        ? [
            ...stateRow("URL", webhook.url, "webhook-url"),
            ...stateRow("Enabled", webhook.enabled ? "yes" : "no", "webhook-enabled-state"),
            ...stateRow("Cursor (last delivered inbox_seq)", webhook.cursor, "webhook-cursor"),
            ...stateRow("Pending events", webhook.pending, "webhook-pending"),
            ...stateRow("Last success", webhook.last_success_at ? fmtTime(webhook.last_success_at) : "never", "webhook-last-success",
              { title: webhook.last_success_at || "" }),
            ...stateRow("Last error", webhook.last_error, "webhook-last-error"),
            ...stateRow("Disabled because", webhook.disabled_reason, "webhook-disabled-reason"),
          ]
        : []),
    );
    // The inputs follow the server unless the person is editing them.
    if (!card.url.dataset.dirty && document.activeElement !== card.url) card.url.value = webhook?.url || "";
    if (!card.enabled.dataset.dirty) card.enabled.checked = webhook ? !!webhook.enabled : true;
  }

  function renderDeliveries(id) {
    const card = cards.get(id);
    const data = state.deliveries.get(id);
    if (!card || !data) return;
    const rows = data.items.map(deliveryRow);
    card.table.tBodies[0].replaceChildren(
      ...rows.map((r) =>
        h(
          "tr",
          { "data-testid": "delivery-row", "data-delivery-id": r.id, "data-ok": r.ok ? "true" : "false" },
          h("td", { title: r.at || "" }, fmtTime(r.at)),
          h("td", { "data-testid": "delivery-events" }, r.events),
          h("td", { "data-testid": "delivery-status", class: r.ok ? "ok" : "bad" }, r.status),
          h("td", { "data-testid": "delivery-attempt" }, r.attempt),
          h("td", { "data-testid": "delivery-duration" }, r.duration),
          h("td", { "data-testid": "delivery-error", class: "delivery-error" }, r.error),
        ),
      ),
    );
    card.table.hidden = rows.length === 0;
    card.deliveriesEmpty.hidden = rows.length > 0;
    card.older.hidden = !data.next_cursor;
  }

  async function loadDeliveries(id, { fresh = false, more = false } = {}) {
    const card = cards.get(id);
    if (!card) return;
    card.deliveriesError.textContent = "";
    try {
      const cursor = more ? state.deliveries.get(id)?.next_cursor : null;
      const page = await api.webhookDeliveries(id, cursor);
      if (!state.bots.has(id)) return;
      mergeDeliveries(state, id, page, { fresh: fresh && !more });
      renderDeliveries(id);
    } catch (e) {
      card.deliveriesError.textContent = describeError(e);
    }
  }

  // ------------------------------------------------------------ the list

  function renderList() {
    const bots = sortedBots(state);
    for (const [id, card] of cards) {
      if (!state.bots.has(id)) {
        card.li.remove();
        cards.delete(id);
      }
    }
    const order = [];
    for (const entry of bots) {
      let card = cards.get(entry.bot.id);
      if (!card) {
        card = buildCard(entry.bot.id);
        cards.set(entry.bot.id, card);
      }
      renderCard(card, entry);
      order.push(card.li);
    }
    // Append in order (moves only the ones out of place).
    order.forEach((li, i) => {
      if (listEl.children[i] !== li) listEl.insertBefore(li, listEl.children[i] || null);
    });
    emptyEl.hidden = !state.loaded || bots.length > 0;
    dialog.dataset.count = String(bots.length);
  }

  /** Every page of GET /bots; what changed meanwhile (an event, our own change) is kept. */
  async function loadBots() {
    const run = ++loadRun;
    const since = beginLoad(state);
    listError.textContent = "";
    try {
      let cursor = null;
      let seen = new Set();
      do {
        const page = await api.bots(cursor);
        if (run !== loadRun) return;
        cursor = page.next_cursor || null;
        seen = applyBotPage(state, page.items, since, { complete: !cursor, seen });
      } while (cursor);
      renderList();
      for (const [id, card] of cards) if (card.deliveries.open) loadDeliveries(id, { fresh: true });
    } catch (e) {
      if (run === loadRun) listError.textContent = `Could not load your bots: ${describeError(e)}`;
    }
  }

  function build() {
    const close = h("button", { type: "button", class: "secondary", "data-testid": "bots-close" }, "Close");
    close.addEventListener("click", () => dialog.close());
    const reload = h("button", { type: "button", class: "secondary", "data-testid": "bots-reload" }, "Reload");
    reload.addEventListener("click", () => busy(reload, loadBots));
    dialog.replaceChildren(
      h("header", { class: "row" }, h("h2", { id: "bots-title" }, "Bots"), h("span", { class: "spacer" }), reload, close),
      h("p", { class: "hint" }, "A bot is an account you own that acts with its own token; its inbox can be delivered to a webhook."),
      h("section", { class: "account-section", "data-testid": "bot-create-section" }, h("h3", {}, "New bot"), createForm()),
      secretsEl,
      h("section", { class: "account-section", "data-testid": "bots-section" }, h("h3", {}, "Your bots"), listError, emptyEl, listEl),
    );
  }

  async function open() {
    if (!hooks.isSignedIn()) return;
    if (!dialog.open) dialog.showModal();
    await loadBots();
  }

  /** `bot_updated` (a webhook disabled after failing too long): that bot's state, redrawn. */
  function applyBotUpdated(data) {
    const entry = applyBotUpdatedTo(state, data);
    if (!entry) return;
    if (dialog.open) {
      renderList();
      if (cards.get(entry.bot.id)?.deliveries.open) loadDeliveries(entry.bot.id, { fresh: true });
    }
    const st = webhookStatus(entry.webhook);
    if (st.kind === "disabled") views.showError(`The webhook of bot ${botLabel(entry.bot)} was turned off: ${entry.webhook.disabled_reason}`);
  }

  function wire() {
    build();
    document.body.append(dialog);
    $("bots-button").addEventListener("click", () => open());
  }

  /** The session ended: the dialog closes and forgets everything, the secrets first. */
  function clear() {
    loadRun++;
    if (dialog.open) dialog.close();
    secretsEl.hidden = true;
    secretsEl.replaceChildren();
    for (const card of cards.values()) card.li.remove();
    cards.clear();
    resetBotsState(state);
    build();
  }

  return { wire, open, applyBotUpdated, clear, state };
}
