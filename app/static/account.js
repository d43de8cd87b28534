// Accounts in the web client (contract v1.1 Auth and Users): what people are
// called and look like (display names, avatars, `user_updated`), a person's card (block,
// unblock, message), and the settings dialog (profile, sessions, blocked people, export,
// deleting the account). Its rules are in store.js; app.js calls the few hooks it returns.

import { api, ApiError, describeError, describeUploadError, fetchBlob, uploadAttachment } from "./api.js";
import {
  applyProfile,
  createUrlCache,
  DELETED_ACCOUNT,
  exportFileName,
  exportProgress,
  otherMember,
  personName,
  presenceText,
  sortSessions,
  unknownPeople,
} from "./store.js";
import { $, fmtTime, forgetImageUrl, h, imageUrl } from "./views.js";

const EXPORT_POLL_MS = 1000;
const PROFILE_FETCHES = 4; // GET /users/{id} at once
const AVATAR_TYPES = "image/png,image/jpeg,image/gif,image/webp";

/**
 * hooks: views (createViews' answer), startDirect(user), sessionEnded(text) (back to the login
 * screen), isCurrentMe(me) (whether the session that asked is still the signed-in one).
 */
export function createAccount(state, hooks) {
  const { views } = hooks;
  const pending = new Set(); // user ids whose profile is queued or being fetched
  const queue = []; // user ids waiting for a fetch
  let running = 0;
  let redrawFrame = 0;
  let exportTimer = null;
  let exportRun = 0;
  let exportUrl = null; // the object URL of the last archive, given back when the dialog closes
  let cardUserId = null;
  let profileStatus = ""; // what the profile section last said ("Name saved."), kept across redraws

  // Avatars need the bearer token: fetched as blobs and shown through shared object URLs,
  // as the message thumbnails are (views.js).
  const avatars = createUrlCache({
    load: (path) => fetchBlob(path),
    create: (blob) => imageUrl(blob),
    revoke: (url) => forgetImageUrl(url),
  });

  /** Shows the image at `path` (an API path; null: the initials) in the avatar element `el`. */
  function setAvatar(el, path, name) {
    if (el.dataset.avatarPath === (path || "")) return;
    releaseAvatar(el);
    el.dataset.avatarPath = path || "";
    const img = el.querySelector("img");
    const initials = el.querySelector(".initials");
    initials.textContent = (name || "?").trim().charAt(0).toUpperCase() || "?";
    if (!path) {
      img.hidden = true;
      img.removeAttribute("src");
      initials.hidden = false;
      el.dataset.hasAvatar = "false";
      return;
    }
    avatars.acquire(path).then(
      (url) => {
        if (el.dataset.avatarPath !== path) return;
        img.src = url;
        img.hidden = false;
        initials.hidden = true;
        el.dataset.hasAvatar = "true";
      },
      () => {
        if (el.dataset.avatarPath === path) el.dataset.avatarPath = ""; // shown as initials
      },
    );
  }

  function releaseAvatar(el) {
    if (el.dataset.avatarPath) avatars.release(el.dataset.avatarPath);
    delete el.dataset.avatarPath;
  }

  function avatarEl(testid, size = "small") {
    return h(
      "span",
      { class: `avatar avatar-${size}`, "data-testid": testid, "data-has-avatar": "false" },
      h("img", { alt: "", hidden: true, decoding: "async" }),
      h("span", { class: "initials", "aria-hidden": "true" }, "?"),
    );
  }

  // ------------------------------------------------------------ what people are called

  function redrawPeople() {
    views.renderChatList();
    views.renderConversationHeader();
    views.refreshMessages();
    views.renderPins();
  }

  /** Fetches the profiles of the people in `chats` we do not know yet (display names, avatars). */
  function learnPeople(chats) {
    if (!state.me) return;
    for (const id of unknownPeople(chats, state.profiles, state.me.id, pending)) {
      pending.add(id);
      queue.push(id);
    }
    pump();
  }

  /** A few profile fetches at a time (a first load may name hundreds of people), one redraw per frame. */
  function pump() {
    while (running < PROFILE_FETCHES && queue.length && state.me) {
      const me = state.me;
      const id = queue.shift();
      running++;
      api
        .user(id)
        .then((user) => {
          if (state.me === me && applyProfile(state.profiles, user)) scheduleRedraw();
        })
        .catch(() => {
          /* the username stays shown */
        })
        .finally(() => {
          running--;
          pending.delete(id);
          pump();
        });
    }
  }

  function scheduleRedraw() {
    if (redrawFrame) return;
    redrawFrame = requestAnimationFrame(() => {
      redrawFrame = 0;
      if (state.me) redrawPeople();
    });
  }

  /**
   * Senders of `messages` who are no longer members (left, or erased: "Deleted account"), whose
   * name the chat's members cannot give.
   */
  function learnSenders(chatId, messages) {
    const chat = state.chats.get(chatId);
    const members = new Set((chat?.members || []).map((m) => m.user_id));
    const ids = new Set();
    for (const m of messages || []) {
      for (const id of [m.sender_id, m.reply_to?.sender_id]) if (id != null && !members.has(id)) ids.add(id);
    }
    learnPeople([{ members: [...ids].map((user_id) => ({ user_id })) }]);
  }

  /** `user_updated`: a contact's new name or avatar (or an erasure), or ours from another device. */
  function applyUserUpdated(user) {
    if (!user || !state.me) return;
    if (user.id === state.me.id) {
      // Our own change echoes back; only one made elsewhere redraws the profile section.
      const me = state.me;
      const avatarChanged = (me.avatar?.url || null) !== (user.avatar_url || null);
      if (me.display_name === user.display_name && !avatarChanged) return;
      me.display_name = user.display_name;
      showMe();
      if (!avatarChanged) {
        if (settingsOpen()) renderProfile();
        return;
      }
      api
        .me()
        .then((fresh) => {
          if (state.me !== me) return;
          Object.assign(me, fresh);
          if (settingsOpen()) renderProfile();
        })
        .catch(() => {});
      return;
    }
    if (applyProfile(state.profiles, user)) redrawPeople();
    if (cardUserId === user.id) renderCard(state.profiles.get(user.id));
  }

  /** The conversation header's person button: the other member's avatar, opening their card. */
  function headerDrawn(chat) {
    let button = document.getElementById("chat-person");
    if (!button) {
      button = h(
        "button",
        { type: "button", class: "chat-person", id: "chat-person", "data-testid": "chat-person", hidden: true },
        avatarEl("chat-avatar"),
      );
      button.addEventListener("click", () => {
        if (button.dataset.personId) openCard(Number(button.dataset.personId));
      });
      $("chat-title").before(button);
    }
    const other = otherMember(chat, state.me?.id);
    const avatar = button.firstElementChild;
    if (!other) {
      button.hidden = true;
      delete button.dataset.personId;
      releaseAvatar(avatar);
      return;
    }
    const profile = state.profiles.get(other.user_id);
    const name = personName(profile, other.username);
    button.hidden = false;
    button.dataset.personId = String(other.user_id);
    button.setAttribute("aria-label", `About ${name}`);
    button.title = `About ${name}`;
    setAvatar(avatar, profile?.avatar_url || null, name);
  }

  /** The top bar names who is signed in: the display name, and the username when they differ. */
  function showMe() {
    const me = state.me;
    const el = $("current-user");
    if (!me || el.hidden) return;
    const name = (me.display_name || "").trim();
    el.replaceChildren(
      h("span", { class: "visually-hidden" }, "Signed in as "),
      // replaceChildren would write a null as the text "null": an empty text node instead.
      name && name !== me.username ? h("span", { "data-testid": "current-display-name" }, `${name} `) : "",
      me.username,
    );
  }

  // ------------------------------------------------------------ a person's card

  const card = h("dialog", { class: "user-card", id: "user-card", "data-testid": "user-card", "aria-labelledby": "user-card-name" });
  card.addEventListener("close", () => {
    cardUserId = null;
    releaseAvatar(card.querySelector(".avatar") || document.createElement("span"));
  });

  async function openCard(userId) {
    if (!state.me || userId == null || userId === state.me.id) return;
    const me = state.me;
    cardUserId = userId;
    const known = state.profiles.get(userId);
    renderCard(known || { id: userId, display_name: "…", username: null }, null);
    if (!card.open) card.showModal();
    try {
      const [user, blocked] = await Promise.all([api.user(userId), blockedIds()]);
      if (state.me !== me || cardUserId !== userId) return;
      if (applyProfile(state.profiles, user)) redrawPeople();
      renderCard(state.profiles.get(userId), blocked.has(userId));
    } catch (e) {
      if (cardUserId === userId) card.querySelector("[data-testid=user-card-error]").textContent = describeError(e);
    }
  }

  async function blockedIds() {
    const ids = new Set();
    let cursor = null;
    do {
      const page = await api.blocked(cursor);
      for (const u of page.items || []) ids.add(u.id);
      cursor = page.next_cursor || null;
    } while (cursor);
    return ids;
  }

  /** `blocked`: true, false, or null while not known (no button yet). */
  function renderCard(profile, blocked = card.dataset.blocked === "true" ? true : card.dataset.blocked === "false" ? false : null) {
    const old = card.querySelector(".avatar");
    if (old) releaseAvatar(old);
    const name = personName(profile, profile?.username || "");
    const avatar = avatarEl("user-card-avatar", "large");
    const error = h("p", { class: "error", role: "alert", "data-testid": "user-card-error" });
    const actionsRow = h("div", { class: "row end" });
    if (!profile?.deleted && blocked !== null) {
      const message = h("button", { type: "button", class: "secondary", "data-testid": "user-card-message" }, "Message");
      message.addEventListener("click", () => {
        card.close();
        hooks.startDirect(profile);
      });
      const block = h(
        "button",
        {
          type: "button",
          class: blocked ? "secondary" : "danger",
          "data-testid": "user-card-block",
          "data-blocked": blocked ? "true" : "false",
        },
        blocked ? "Unblock" : "Block",
      );
      block.addEventListener("click", async () => {
        block.disabled = true;
        try {
          await (blocked ? api.unblock(profile.id) : api.block(profile.id));
          if (cardUserId === profile.id) renderCard(profile, !blocked);
          if (settingsOpen()) renderBlocked();
        } catch (e) {
          error.textContent = describeError(e);
          block.disabled = false;
        }
      });
      actionsRow.append(message, block);
    }
    const close = h("button", { type: "button", "data-testid": "user-card-close" }, "Close");
    close.addEventListener("click", () => card.close());
    actionsRow.append(close);
    if (blocked === null) delete card.dataset.blocked;
    else card.dataset.blocked = blocked ? "true" : "false";
    card.dataset.userId = String(profile?.id ?? "");
    card.replaceChildren(
      h(
        "div",
        { class: "user-card-head" },
        avatar,
        h(
          "div",
          {},
          h("h2", { id: "user-card-name", "data-testid": "user-card-name" }, name),
          profile?.username && profile.username !== name
            ? h("p", { class: "hint", "data-testid": "user-card-username" }, `@${profile.username}`)
            : null,
          h("p", { class: "presence", "data-testid": "user-card-presence" }, presenceText(profile, fmtTime)),
          blocked ? h("p", { class: "hint", "data-testid": "user-card-blocked" }, "You blocked this person.") : null,
        ),
      ),
      error,
      actionsRow,
    );
    setAvatar(avatar, profile?.deleted ? null : profile?.avatar_url || null, name === DELETED_ACCOUNT ? "?" : name);
  }

  // ------------------------------------------------------------ the settings dialog

  const settings = h("dialog", { class: "account-settings", id: "account-dialog", "data-testid": "account-dialog", "aria-labelledby": "account-title" });
  const fileInput = h("input", { type: "file", accept: AVATAR_TYPES, hidden: true, "data-testid": "avatar-file" });
  settings.addEventListener("close", () => {
    stopExportPolling();
    for (const el of settings.querySelectorAll(".avatar")) releaseAvatar(el);
  });
  const settingsOpen = () => settings.open;

  function section(title, testid, ...children) {
    return h("section", { class: "account-section", "data-testid": testid }, h("h3", {}, title), ...children);
  }

  function buildSettings() {
    const close = h("button", { type: "button", class: "secondary", "data-testid": "account-close" }, "Close");
    close.addEventListener("click", () => settings.close());
    settings.replaceChildren(
      h("header", { class: "row" }, h("h2", { id: "account-title" }, "Settings"), h("span", { class: "spacer" }), close),
      section("Profile", "profile-section", h("div", { id: "profile-body" })),
      section("Sessions", "sessions-section", h("ul", { class: "plain-list", id: "session-list", "data-testid": "session-list" }),
        h("p", { class: "error", role: "alert", id: "sessions-error", "data-testid": "sessions-error" })),
      section("Blocked people", "blocked-section", h("ul", { class: "plain-list", id: "blocked-list", "data-testid": "blocked-list" }),
        h("p", { class: "hint", id: "blocked-empty", "data-testid": "blocked-empty", hidden: true }, "You have blocked nobody.")),
      section("Export your data", "export-section", exportBody()),
      section("Delete account", "delete-section", deleteBody()),
      fileInput,
    );
  }

  async function openSettings() {
    if (!state.me) return;
    buildSettings();
    profileStatus = "";
    renderProfile();
    if (!settings.open) settings.showModal();
    await Promise.all([renderSessions(), renderBlocked()]);
  }

  // Profile: display name and avatar.
  function renderProfile() {
    const me = state.me;
    const body = settings.querySelector("#profile-body");
    if (!me || !body) return;
    const old = body.querySelector(".avatar");
    if (old) releaseAvatar(old);
    const avatar = avatarEl("avatar-preview", "large");
    const status = h("p", { class: "hint", role: "status", "data-testid": "profile-status" }, profileStatus);
    const error = h("p", { class: "error", role: "alert", "data-testid": "profile-error" });
    const input = h("input", {
      id: "display-name-input",
      "data-testid": "display-name-input",
      maxlength: 64,
      value: me.display_name || me.username,
      autocomplete: "nickname",
    });
    const save = h("button", { type: "submit", "data-testid": "display-name-save" }, "Save name");
    const form = h(
      "form",
      { class: "field", novalidate: true },
      h("label", { for: "display-name-input" }, "Display name"),
      h("div", { class: "row" }, input, save),
      h("small", { class: "hint" }, `Shown instead of your username (@${me.username}); 1 to 64 characters.`),
    );
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const name = input.value.trim();
      if (!name) {
        error.textContent = "Enter a display name.";
        return;
      }
      await changeProfile(save, status, error, { display_name: name }, "Name saved.");
    });
    const upload = h("button", { type: "button", class: "secondary", "data-testid": "avatar-upload" }, me.avatar ? "Change avatar" : "Upload avatar");
    upload.addEventListener("click", () => fileInput.click());
    const remove = h("button", { type: "button", class: "secondary", "data-testid": "avatar-remove", hidden: !me.avatar }, "Remove avatar");
    remove.addEventListener("click", () => changeProfile(remove, status, error, { avatar_attachment_id: null }, "Avatar removed."));
    fileInput.onchange = async () => {
      const file = fileInput.files[0];
      fileInput.value = "";
      if (!file) return;
      error.textContent = "";
      upload.disabled = true;
      profileStatus = "";
      status.textContent = "Uploading…";
      try {
        const attachment = await uploadAttachment(file, (loaded, total) => {
          status.textContent = `Uploading… ${total ? Math.round((100 * loaded) / total) : 0} %`;
        }).promise;
        await changeProfile(upload, status, error, { avatar_attachment_id: attachment.id }, "Avatar saved.");
      } catch (e) {
        status.textContent = "";
        error.textContent = describeUploadError(e);
      } finally {
        upload.disabled = false;
      }
    };
    body.replaceChildren(
      h("div", { class: "profile-row" }, avatar, h("div", { class: "row" }, upload, remove)),
      form,
      status,
      error,
    );
    setAvatar(avatar, me.avatar ? me.avatar.url : null, me.display_name || me.username);
  }

  async function changeProfile(button, status, error, changes, done) {
    const me = state.me;
    button.disabled = true;
    error.textContent = "";
    profileStatus = "";
    try {
      const user = await api.updateMe(changes);
      if (state.me !== me) return;
      Object.assign(state.me, user);
      profileStatus = done;
      showMe();
      renderProfile();
    } catch (e) {
      status.textContent = "";
      error.textContent = describeError(e);
    } finally {
      button.disabled = false;
    }
  }

  // Sessions: every live one, this one marked; any may be revoked.
  async function renderSessions() {
    const list = settings.querySelector("#session-list");
    const error = settings.querySelector("#sessions-error");
    if (!list) return;
    try {
      const sessions = sortSessions(await api.sessions());
      error.textContent = "";
      list.replaceChildren(...sessions.map(sessionEl));
    } catch (e) {
      error.textContent = describeError(e);
    }
  }

  function sessionEl(s) {
    const revoke = h(
      "button",
      { type: "button", class: s.current ? "secondary" : "danger", "data-testid": "session-revoke" },
      s.current ? "Log out here" : "Revoke",
    );
    revoke.addEventListener("click", async () => {
      revoke.disabled = true;
      try {
        await api.revokeSession(s.id);
        if (s.current) {
          settings.close();
          hooks.sessionEnded("You ended this session.");
          return;
        }
        await renderSessions();
      } catch (e) {
        settings.querySelector("#sessions-error").textContent = describeError(e);
        revoke.disabled = false;
      }
    });
    return h(
      "li",
      { "data-testid": "session", "data-session-id": s.id, "data-current": s.current ? "true" : "false" },
      h(
        "div",
        { class: "session-text" },
        h(
          "span",
          { class: "session-agent" },
          shortAgent(s.user_agent),
          s.current ? h("strong", { class: "current-mark", "data-testid": "session-current" }, " · this device") : null,
        ),
        h(
          "small",
          { class: "hint" },
          `${s.ip || "unknown address"} · signed in ${fmtTime(s.created_at)} · last active ${fmtTime(s.last_seen_at)}`,
        ),
      ),
      revoke,
    );
  }

  // Blocked people, each with Unblock.
  async function renderBlocked() {
    const list = settings.querySelector("#blocked-list");
    if (!list) return;
    try {
      const people = [];
      let cursor = null;
      do {
        const page = await api.blocked(cursor);
        people.push(...(page.items || []));
        cursor = page.next_cursor || null;
      } while (cursor);
      list.replaceChildren(
        ...people.map((u) => {
          const unblock = h("button", { type: "button", class: "secondary", "data-testid": "unblock-button" }, "Unblock");
          unblock.addEventListener("click", async () => {
            unblock.disabled = true;
            try {
              await api.unblock(u.id);
              await renderBlocked();
              if (cardUserId === u.id) renderCard(state.profiles.get(u.id) || u, false);
            } catch (e) {
              views.showError(describeError(e));
              unblock.disabled = false;
            }
          });
          return h(
            "li",
            { "data-testid": "blocked-user", "data-user-id": u.id },
            h("span", {}, personName(u, u.username || "")),
            u.username ? h("small", { class: "hint" }, ` @${u.username}`) : null,
            unblock,
          );
        }),
      );
      settings.querySelector("#blocked-empty").hidden = people.length > 0;
    } catch (e) {
      views.showError(describeError(e));
    }
  }

  // Export: start, poll until ready, then download the JSON.
  function exportBody() {
    const start = h("button", { type: "button", "data-testid": "export-start" }, "Export my data");
    const status = h("p", { class: "hint", role: "status", id: "export-status", "data-testid": "export-status" });
    const again = h("p", { id: "export-again" });
    start.addEventListener("click", async () => {
      start.disabled = true;
      again.replaceChildren();
      status.textContent = "Starting the export…";
      try {
        const job = await api.startExport();
        pollExport(job.id, start, status, again, ++exportRun);
      } catch (e) {
        status.textContent = describeError(e);
        start.disabled = false;
      }
    });
    return h(
      "div",
      {},
      h("p", { class: "hint" }, "A JSON file with your profile, your chats and every message you sent."),
      start,
      status,
      again,
    );
  }

  function stopExportPolling() {
    clearTimeout(exportTimer);
    exportTimer = null;
    exportRun++;
    if (exportUrl) URL.revokeObjectURL(exportUrl);
    exportUrl = null;
  }

  async function pollExport(id, start, status, again, run) {
    if (run !== exportRun || !state.me) return;
    try {
      const answer = await api.exportStatus(id);
      if (run !== exportRun) return;
      const progress = exportProgress(answer.status === 202 ? answer.body : null, answer.status);
      status.textContent = progress.text;
      if (!progress.done) {
        exportTimer = setTimeout(() => pollExport(id, start, status, again, run), EXPORT_POLL_MS);
        return;
      }
      start.disabled = false;
      if (progress.failed) return;
      const blob = new Blob([answer.body], { type: "application/json" });
      if (exportUrl) URL.revokeObjectURL(exportUrl);
      const url = URL.createObjectURL(blob);
      exportUrl = url;
      const name = exportFileName(state.me?.username);
      const link = h("a", { href: url, download: name, "data-testid": "export-download" }, `Download ${name} again`);
      again.replaceChildren(link);
      link.click();
    } catch (e) {
      if (run !== exportRun) return;
      status.textContent = describeError(e);
      start.disabled = false;
    }
  }

  // Deleting the account: the password, a confirmation, then the login screen.
  function deleteBody() {
    const input = h("input", {
      type: "password",
      id: "delete-password",
      "data-testid": "delete-password",
      autocomplete: "current-password",
      required: true,
    });
    const error = h("p", { class: "error", role: "alert", "data-testid": "delete-error" });
    const button = h("button", { type: "submit", class: "danger", "data-testid": "delete-account" }, "Delete my account");
    const form = h(
      "form",
      { novalidate: true },
      h("p", { class: "hint" }, "Your profile goes, your messages stay in their chats with their text erased, and your username becomes free. This cannot be undone."),
      h("div", { class: "field" }, h("label", { for: "delete-password" }, "Your password"), input),
      error,
      button,
    );
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const password = input.value;
      if (!password) {
        error.textContent = "Enter your password to delete the account.";
        input.focus();
        return;
      }
      if (!(await views.confirmAction(`Delete the account ${state.me?.username} for good?`, "Delete account"))) return;
      button.disabled = true;
      error.textContent = "";
      try {
        await api.deleteAccount(password);
        settings.close();
        hooks.sessionEnded("Your account was deleted.");
      } catch (e) {
        error.textContent =
          e instanceof ApiError && e.code === "validation_error" ? "That password is not right." : describeError(e);
        button.disabled = false;
      }
    });
    return form;
  }

  // ------------------------------------------------------------ wiring

  function wire() {
    document.body.append(card, settings);
    $("settings-button").addEventListener("click", () => openSettings());
    // Names marked with data-person-id (senders, members) open that person's card.
    document.addEventListener("click", (ev) => {
      const el = ev.target.closest?.("[data-person-id]");
      if (!el || el.id === "chat-person" || !$("chat-view").contains(el)) return;
      ev.preventDefault();
      openCard(Number(el.dataset.personId));
    });
    // A sender's name is a span with role=button: Enter and Space open the card as a click does.
    document.addEventListener("keydown", (ev) => {
      if (ev.key !== "Enter" && ev.key !== " ") return;
      const el = ev.target;
      if (!el?.matches?.("span[data-person-id][role=button]")) return;
      ev.preventDefault();
      openCard(Number(el.dataset.personId));
    });
  }

  /** The session ended: dialogs close, avatar URLs go back, export polling stops. */
  function clear() {
    stopExportPolling();
    if (card.open) card.close();
    if (settings.open) settings.close();
    pending.clear();
    queue.length = 0;
    cardUserId = null;
    const person = document.getElementById("chat-person");
    if (person) {
      person.hidden = true;
      releaseAvatar(person.firstElementChild);
    }
    avatars.clear();
  }

  return { wire, learnPeople, learnSenders, applyUserUpdated, headerDrawn, showMe, openCard, openSettings, clear };
}

/** "Firefox on Linux" from a user agent, else the agent shortened. */
function shortAgent(ua) {
  if (!ua) return "Unknown device";
  const browser = /Edg\//.test(ua)
    ? "Edge"
    : /Firefox\//.test(ua)
      ? "Firefox"
      : /Chrom(e|ium)\//.test(ua)
        ? "Chromium"
        : /Safari\//.test(ua)
          ? "Safari"
          : null;
  const os = /Windows/.test(ua) ? "Windows" : /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" : /Mac OS X/.test(ua) ? "macOS" : /Linux/.test(ua) ? "Linux" : null;
  if (browser) return os ? `${browser} on ${os}` : browser;
  return ua.length > 48 ? `${ua.slice(0, 47)}…` : ua;
}
