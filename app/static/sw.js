// The service worker (a module worker, scope /static/; see SW_SCOPE in push.js for why that
// scope is enough). It does two things: show a push as a notification, one per chat, and on a
// click bring the app to that chat. It caches nothing and handles no fetch.

import { chatUrl, notificationFor, OPEN_CHAT, parsePayload } from "./push.js";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  const payload = event.data ? parsePayload(event.data.text()) : null;
  const { title, options, badge } = notificationFor(payload);
  event.waitUntil(
    Promise.all([
      self.registration.showNotification(title, options),
      // The unread total as the app's badge, where the browser has one (an installed app).
      badge != null && self.navigator.setAppBadge
        ? (badge > 0 ? self.navigator.setAppBadge(badge) : self.navigator.clearAppBadge()).catch(() => {})
        : null,
    ]),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const chatId = event.notification.data?.chat_id ?? null;
  event.waitUntil(openChat(chatId));
});

/**
 * An open window of the app (in scope or not) is told to open the chat, then focused; with
 * none, a new one opens at /?chat=ID, which app.js reads on load.
 */
async function openChat(chatId) {
  const origin = self.location.origin;
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const app = windows.filter((c) => new URL(c.url).origin === origin);
  const target = app.find((c) => c.focused) || app.find((c) => c.visibilityState === "visible") || app[0];
  if (target) {
    if (chatId != null) target.postMessage({ type: OPEN_CHAT, chat_id: chatId });
    try {
      await target.focus();
    } catch {
      // Only allowed while handling a real click; the chat opened all the same.
    }
    return;
  }
  await self.clients.openWindow(chatId != null ? chatUrl(chatId) : "/");
}
