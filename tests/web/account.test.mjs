// The account rules of store.js: what a person is called, profiles merged from
// GET /users/{id} and `user_updated`, whose profile to fetch, sessions' order, presence text
// and the export's progress. Run with `node --test tests/web/`.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  applyProfile,
  chatTitle,
  createState,
  DELETED_ACCOUNT,
  exportFileName,
  exportProgress,
  personName,
  presenceText,
  resetState,
  sortSessions,
  unknownPeople,
  usernameOf,
} from "../../app/static/store.js";

const direct = { id: 1, type: "direct", members: [{ user_id: 1, username: "me" }, { user_id: 2, username: "bob" }] };

test("personName prefers the display name, then the username, then the fallback", () => {
  assert.equal(personName({ display_name: "Bobby", username: "bob" }, "x"), "Bobby");
  assert.equal(personName({ display_name: "  ", username: "bob" }, "x"), "bob");
  assert.equal(personName(undefined, "bob"), "bob");
  assert.equal(personName(null), "");
});

test("an erased account is shown as Deleted account, whatever else it carries", () => {
  assert.equal(personName({ deleted: true, username: null, display_name: "Deleted account" }, "bob"), DELETED_ACCOUNT);
  assert.equal(personName({ deleted: true, display_name: "Old name" }, "bob"), DELETED_ACCOUNT);
});

test("chatTitle and usernameOf use the profile's display name when known", () => {
  const profiles = new Map();
  assert.equal(chatTitle(direct, 1, profiles), "bob");
  assert.equal(chatTitle(direct, 1), "bob"); // no profiles at all: as before
  profiles.set(2, { id: 2, username: "bob", display_name: "Роберт" });
  assert.equal(chatTitle(direct, 1, profiles), "Роберт");
  assert.equal(usernameOf(direct, 2, 1, profiles), "Роберт");
  assert.equal(usernameOf(direct, 1, 1, profiles), "You");
  assert.equal(chatTitle({ type: "group", title: "G", members: direct.members }, 1, profiles), "G");
});

test("a sender who is no longer a member is named by the profile, else User id", () => {
  const profiles = new Map([[7, { id: 7, deleted: true, username: null, display_name: DELETED_ACCOUNT }]]);
  assert.equal(usernameOf(direct, 7, 1, profiles), DELETED_ACCOUNT);
  assert.equal(usernameOf(direct, 8, 1, profiles), "User 8");
});

test("applyProfile merges and says whether anything shown changed", () => {
  const profiles = new Map();
  assert.equal(applyProfile(profiles, { id: 2, username: "bob", display_name: "bob", avatar_url: null }), true);
  assert.equal(applyProfile(profiles, { id: 2, username: "bob", display_name: "bob", avatar_url: null }), false);
  assert.equal(applyProfile(profiles, { id: 2, username: "bob", display_name: "Bobby", avatar_url: null }), true);
  assert.equal(applyProfile(profiles, { id: 2, avatar_url: "/attachments/5" }), true);
  assert.deepEqual(profiles.get(2), { id: 2, username: "bob", display_name: "Bobby", avatar_url: "/attachments/5" });
  assert.equal(applyProfile(profiles, null), false);
  assert.equal(applyProfile(profiles, {}), false);
});

test("unknownPeople lists members not known, not me, not already being fetched, once each", () => {
  const group = { id: 3, type: "group", members: [{ user_id: 1 }, { user_id: 2 }, { user_id: 4 }, { user_id: 5 }] };
  const profiles = new Map([[4, { id: 4 }]]);
  assert.deepEqual(unknownPeople([direct, group], profiles, 1, new Set([5])), [2]);
  assert.deepEqual(unknownPeople([{ id: 9 }], profiles, 1), []);
});

test("resetState forgets the profiles", () => {
  const state = createState();
  state.profiles.set(2, { id: 2 });
  resetState(state);
  assert.equal(state.profiles.size, 0);
});

test("sortSessions puts this device first, then the most recently seen", () => {
  const sessions = [
    { id: 1, current: false, last_seen_at: "2026-01-01T10:00:00Z" },
    { id: 2, current: false, last_seen_at: "2026-01-02T10:00:00Z" },
    { id: 3, current: true, last_seen_at: "2025-12-01T10:00:00Z" },
  ];
  assert.deepEqual(sortSessions(sessions).map((s) => s.id), [3, 2, 1]);
  assert.deepEqual(sortSessions(null), []);
  assert.equal(sessions[0].id, 1); // the input is left as it was
});

test("presenceText: online, last seen, offline, or nothing when not shared", () => {
  assert.equal(presenceText({ online: true }), "online");
  assert.equal(presenceText({ online: false, last_seen_at: "T" }, (t) => `at ${t}`), "last seen at T");
  assert.equal(presenceText({ online: false, last_seen_at: null }), "offline");
  assert.equal(presenceText({ online: null, last_seen_at: null }), "");
  assert.equal(presenceText({ deleted: true, online: true }), "");
  assert.equal(presenceText(undefined), "");
});

test("exportProgress: 202 pending keeps polling, 200 is the archive, failed stops", () => {
  assert.deepEqual(exportProgress({ id: 1, status: "pending" }, 202).done, false);
  assert.equal(exportProgress({ id: 1, status: "running" }, 202).text, "Building your archive…");
  const ready = exportProgress(null, 200);
  assert.equal(ready.done, true);
  assert.equal(ready.failed, false);
  const failed = exportProgress({ id: 1, status: "failed" }, 202);
  assert.equal(failed.done, true);
  assert.equal(failed.failed, true);
});

test("exportFileName names the account and the day", () => {
  assert.equal(exportFileName("alice", new Date("2026-11-27T19:00:00Z")), "messenger-export-alice-2026-11-27.json");
  assert.equal(exportFileName(null, new Date("2026-11-27T19:00:00Z")), "messenger-export-account-2026-11-27.json");
});
