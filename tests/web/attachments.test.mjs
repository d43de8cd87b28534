// The store's rules for attachments (app/static/store.js), run with `node --test`: the
// composer's pending uploads and their progress, when Send may go, the outbox carrying
// attachments across a reload, one-line previews, and the object URLs' lifetime.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  MAX_ATTACHMENTS,
  composerReadiness,
  createState,
  createUrlCache,
  fitBox,
  formatBytes,
  isImage,
  messagePreview,
  newOutboxItem,
  newUpload,
  parseOutbox,
  removeUpload,
  resetState,
  serializeOutbox,
  uploadDone,
  uploadFailed,
  uploadPercent,
  uploadProgress,
  uploadRoom,
  uploadsOf,
} from "../../app/static/store.js";

const PNG = { id: 5, name: "a.png", content_type: "image/png", size: 2048, width: 800, height: 600, url: "/attachments/5", thumbnail_url: "/attachments/5/thumbnail" };
const PDF = { id: 6, name: "b.pdf", content_type: "application/pdf", size: 10, width: null, height: null, url: "/attachments/6", thumbnail_url: null };
const file = (name, size, type = "") => ({ name, size, type });

describe("pending uploads", () => {
  test("a new upload starts at zero bytes, uploading, with the file's name and size", () => {
    const up = newUpload("u1", 7, file("photo.png", 1000, "image/png"));
    assert.deepEqual(
      [up.key, up.chat_id, up.name, up.size, up.type, up.loaded, up.status, up.error, up.attachment],
      ["u1", 7, "photo.png", 1000, "image/png", 0, "uploading", null, null],
    );
    assert.equal(newUpload("u2", 7, file("", 0)).name, "file");
  });
  test("progress only grows, never past the size; the browser's total wins", () => {
    const up = newUpload("u1", 7, file("a", 1000));
    uploadProgress(up, 400, 1000);
    uploadProgress(up, 300, 1000); // events out of order
    assert.equal(up.loaded, 400);
    uploadProgress(up, 5000, 1000);
    assert.equal(up.loaded, 1000);
    const sized = newUpload("u2", 7, file("b", 0));
    uploadProgress(sized, 10, 40);
    assert.deepEqual([sized.size, sized.loaded], [40, 10]);
  });
  test("the bar stops at 99 % until the server answered, then shows 100", () => {
    const up = newUpload("u1", 7, file("a", 200));
    assert.equal(uploadPercent(up), 0);
    uploadProgress(up, 101, 200);
    assert.equal(uploadPercent(up), 50);
    uploadProgress(up, 200, 200);
    assert.equal(uploadPercent(up), 99);
    uploadDone(up, PNG);
    assert.deepEqual([uploadPercent(up), up.status, up.attachment.id, up.loaded], [100, "done", 5, 200]);
    assert.equal(uploadPercent(newUpload("u2", 7, file("empty", 0))), 0);
  });
  test("an ended upload stays as it ended: late progress and a second outcome are ignored", () => {
    const up = newUpload("u1", 7, file("a", 100));
    uploadFailed(up, "A file may have at most 26214400 bytes.");
    uploadProgress(up, 50, 100);
    uploadDone(up, PNG);
    assert.deepEqual([up.status, up.loaded, up.error, up.attachment], ["failed", 0, "A file may have at most 26214400 bytes.", null]);
    assert.equal(uploadFailed(newUpload("u2", 7, file("b", 1)), "").error, "The upload failed.");
  });
  test("uploads belong to a chat; removing one by key returns it once", () => {
    const ups = [newUpload("u1", 7, file("a", 1)), newUpload("u2", 8, file("b", 1)), newUpload("u3", 7, file("c", 1))];
    assert.deepEqual(uploadsOf(ups, 7).map((u) => u.key), ["u1", "u3"]);
    assert.equal(removeUpload(ups, "u1").key, "u1");
    assert.equal(removeUpload(ups, "u1"), null);
    assert.deepEqual(ups.map((u) => u.key), ["u2", "u3"]);
  });
  test(`a message takes at most ${MAX_ATTACHMENTS} files: the room left per chat`, () => {
    const ups = Array.from({ length: 8 }, (_, i) => newUpload(`u${i}`, 7, file("x", 1)));
    assert.equal(uploadRoom(ups, 7, 5), 2);
    assert.equal(uploadRoom(ups, 7, 1), 1);
    assert.equal(uploadRoom(ups, 8, 12), MAX_ATTACHMENTS);
    ups.push(...Array.from({ length: 3 }, (_, i) => newUpload(`v${i}`, 7, file("x", 1))));
    assert.equal(uploadRoom(ups, 7, 1), 0);
  });
  test("a reset forgets the uploads and a waiting send", () => {
    const state = createState();
    state.uploads.push(newUpload("u1", 7, file("a", 1)));
    state.sendWaiting = 7;
    resetState(state);
    assert.deepEqual([state.uploads, state.sendWaiting], [[], null]);
  });
});

describe("send readiness", () => {
  const done = (key, att) => uploadDone(newUpload(key, 7, file(att.name, att.size)), att);
  test("nothing typed and nothing attached: nothing to send", () => {
    assert.deepEqual(composerReadiness("", []), { action: "empty" });
    assert.deepEqual(composerReadiness("  \n", []), { action: "empty" });
  });
  test("text alone sends as typed", () => {
    assert.deepEqual(composerReadiness(" hi ", []), { action: "send", content: " hi ", attachments: [], keys: [] });
  });
  test("files alone send with empty content, also when only blanks were typed", () => {
    const r = composerReadiness("  ", [done("u1", PNG), done("u2", PDF)]);
    assert.deepEqual([r.action, r.content, r.attachments.map((a) => a.id), r.keys], ["send", "", [5, 6], ["u1", "u2"]]);
  });
  test("an upload still going makes the send wait", () => {
    const ups = [done("u1", PNG), newUpload("u2", 7, file("big", 10))];
    assert.deepEqual(composerReadiness("look", ups), { action: "wait" });
    assert.deepEqual(composerReadiness("", [newUpload("u3", 7, file("big", 10))]), { action: "wait" });
  });
  test("a failed upload blocks the send until it is removed, and says which", () => {
    const bad = uploadFailed(newUpload("u2", 7, file("huge.bin", 10)), "too large");
    const r = composerReadiness("text", [done("u1", PNG), bad, newUpload("u3", 7, file("c", 1))]);
    assert.equal(r.action, "blocked");
    assert.match(r.reason, /huge\.bin could not be uploaded/);
    const two = composerReadiness("", [bad, uploadFailed(newUpload("u4", 7, file("x", 1)), "no")]);
    assert.match(two.reason, /^2 files could not be uploaded/);
  });
});

describe("attachments in messages and the outbox", () => {
  test("images are the attachments with a thumbnail", () => {
    assert.equal(isImage(PNG), true);
    assert.equal(isImage(PDF), false);
    assert.equal(isImage(null), false);
  });
  test("sizes as people read them", () => {
    assert.deepEqual(
      [0, 512, 1024, 1536, 26 * 1024 * 1024, 3 * 1024 ** 3, -1, "x"].map(formatBytes),
      ["0 B", "512 B", "1.0 KB", "1.5 KB", "26.0 MB", "3.0 GB", "0 B", "0 B"],
    );
  });
  test("an image's box keeps its shape within the longest side", () => {
    assert.deepEqual(fitBox(800, 600, 320), { width: 320, height: 240 });
    assert.deepEqual(fitBox(100, 1000, 320), { width: 32, height: 320 });
    assert.deepEqual(fitBox(200, 100, 320), { width: 200, height: 100 });
    assert.equal(fitBox(null, 100), null);
  });
  test("a one-line preview: the text, else what the files are", () => {
    assert.equal(messagePreview({ content: "hi", attachments: [PNG] }), "hi");
    assert.equal(messagePreview({ content: "", attachments: [PNG] }), "🖼 a.png");
    assert.equal(messagePreview({ content: "", attachments: [PDF] }), "📎 b.pdf");
    assert.equal(messagePreview({ content: "", attachments: [PNG, { ...PNG, id: 9 }] }), "🖼 2 images");
    assert.equal(messagePreview({ content: "", attachments: [PNG, PDF] }), "📎 2 files");
    assert.equal(messagePreview({ content: "", is_deleted: true, attachments: [] }), "Message deleted");
    assert.equal(messagePreview(null), "");
  });
  test("an outbox item carries its attachments through a reload", () => {
    const now = new Date("2026-01-01T00:00:00Z");
    const item = newOutboxItem(7, "", "a", now, null, [PNG, PDF]);
    assert.notEqual(item.attachments[0], PNG); // a copy
    const back = parseOutbox(serializeOutbox([item]));
    assert.deepEqual(back[0].attachments.map((a) => a.id), [5, 6]);
    assert.equal(back[0].content, "");
    // Items stored before attachments existed read back with none.
    const old = parseOutbox(JSON.stringify([{ client_msg_id: "b", chat_id: 7, content: "x", status: "queued" }]));
    assert.deepEqual(old[0].attachments, []);
  });
});

describe("object URL lifetime", () => {
  function fake() {
    const log = [];
    let n = 0;
    const loads = new Map();
    const cache = createUrlCache({
      load: (key) => {
        log.push(`load ${key}`);
        return new Promise((resolve, reject) => loads.set(key, { resolve, reject }));
      },
      create: (blob) => `blob:${blob}#${++n}`,
      revoke: (url) => log.push(`revoke ${url}`),
    });
    return { cache, log, loads };
  }
  const tick = () => new Promise((r) => setImmediate(r));

  test("one load for every user of a key; the last release revokes", async () => {
    const { cache, log, loads } = fake();
    const a = cache.acquire("/t/1");
    const b = cache.acquire("/t/1");
    await tick();
    loads.get("/t/1").resolve("bytes");
    assert.equal(await a, "blob:bytes#1");
    assert.equal(await b, "blob:bytes#1");
    cache.release("/t/1");
    assert.deepEqual(log, ["load /t/1"]);
    cache.release("/t/1");
    assert.deepEqual(log, ["load /t/1", "revoke blob:bytes#1"]);
    assert.equal(cache.held().size, 0);
    cache.release("/t/1"); // released once too often: nothing happens
    assert.equal(log.length, 2);
  });
  test("a redraw acquires before the old element releases: no second load", async () => {
    const { cache, log, loads } = fake();
    cache.acquire("/t/1");
    await tick();
    loads.get("/t/1").resolve("x");
    await tick();
    cache.acquire("/t/1"); // the redrawn message's new <img>
    cache.release("/t/1"); // the old <img> left the DOM
    assert.deepEqual(log, ["load /t/1"]);
    assert.deepEqual([...cache.held()], [["/t/1", 1]]);
  });
  test("released before the load finished: the URL made afterwards is revoked at once", async () => {
    const { cache, log, loads } = fake();
    const p = cache.acquire("/t/1");
    cache.release("/t/1");
    await tick();
    loads.get("/t/1").resolve("late");
    await p;
    assert.deepEqual(log, ["load /t/1", "revoke blob:late#1"]);
    assert.equal(cache.held().size, 0);
  });
  test("a failed load is forgotten, so the next acquire tries again", async () => {
    const { cache, log, loads } = fake();
    const p = cache.acquire("/t/1");
    await tick();
    loads.get("/t/1").reject(new Error("404"));
    await assert.rejects(p, /404/);
    cache.acquire("/t/1");
    await tick();
    assert.deepEqual(log, ["load /t/1", "load /t/1"]);
  });
  test("clear revokes everything held, and a load still running is revoked when it ends", async () => {
    const { cache, log, loads } = fake();
    cache.acquire("/t/1");
    const pending = cache.acquire("/t/2");
    await tick();
    loads.get("/t/1").resolve("one");
    await tick();
    cache.clear();
    loads.get("/t/2").resolve("two");
    await pending;
    assert.deepEqual(log.slice(2), ["revoke blob:one#1", "revoke blob:two#2"]);
    assert.equal(cache.held().size, 0);
  });
});
