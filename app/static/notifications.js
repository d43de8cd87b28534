// The page's side of Web Push: the "Notifications" control. Turning it on asks the browser's
// permission (on the click itself: browsers refuse a prompt without a user gesture), fetches
// the server's VAPID key, registers the service worker (sw.js), subscribes through the
// PushManager and registers that subscription for this device (POST /push/subscriptions).
// Turning it off deletes it on the server and in the browser. The rules are push.js.

import { api, ApiError, describeError } from "./api.js";
import { base64UrlToBytes, PushState, sameKey, subscriptionBody, SW_SCOPE, SW_URL } from "./push.js";
import { deviceId } from "./socket.js";

const TEXT = {
  insecure: "Push notifications need this site on HTTPS.",
  noBrowser: "This browser cannot receive push notifications.",
  noServer: "This server does not send push notifications.",
  blocked: "Blocked by the browser: allow notifications for this site in its settings.",
  dismissed: "Notifications were not allowed.",
};

/** Whether this browser has what Web Push needs (secure context, service worker, PushManager). */
export function pushSupported() {
  return window.isSecureContext && "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
}

const unsupported = () => (window.isSecureContext ? TEXT.noBrowser : TEXT.insecure);

/**
 * The worker's registration once it is active, which PushManager.subscribe needs. The page is
 * outside the worker's scope, so navigator.serviceWorker.ready would never resolve here.
 */
export async function registerWorker() {
  const reg = await navigator.serviceWorker.register(SW_URL, { scope: SW_SCOPE, type: "module" });
  const worker = reg.installing || reg.waiting;
  if (reg.active && !worker) return reg;
  await new Promise((resolve, reject) => {
    const check = () => {
      if (worker.state === "activated") resolve();
      else if (worker.state === "redundant" && !reg.active) reject(new Error("The service worker did not install."));
      else if (worker.state === "redundant") resolve();
    };
    worker.addEventListener("statechange", check);
    check();
  });
  return reg;
}

async function currentSubscription() {
  const reg = await navigator.serviceWorker.getRegistration(SW_SCOPE);
  return reg ? reg.pushManager.getSubscription() : null;
}

/**
 * The control's logic; `render(state, note)` shows it. One instance per page; refresh() on
 * entering the app, reset() when the session ends.
 */
export function createPushControl(render) {
  let subscriptionId = null;
  let state = PushState.OFF;
  let session = 0; // a session that ended must not set the state of the next one

  function set(mine, next, note = "") {
    if (mine !== session) return;
    state = next;
    render(next, note);
  }

  /** What this browser and this account hold now: on only if the server has this browser's subscription. */
  async function refresh() {
    const mine = session;
    subscriptionId = null;
    if (!pushSupported()) return set(mine, PushState.UNAVAILABLE, unsupported());
    if (Notification.permission === "denied") return set(mine, PushState.BLOCKED, TEXT.blocked);
    try {
      const sub = Notification.permission === "granted" ? await currentSubscription() : null;
      if (!sub) return set(mine, PushState.OFF);
      const rows = await api.pushSubscriptions();
      const row = (rows || []).find((r) => r.kind === "webpush" && r.endpoint === sub.endpoint);
      if (mine !== session) return;
      subscriptionId = row ? row.id : null;
      set(mine, row ? PushState.ON : PushState.OFF);
    } catch {
      set(mine, PushState.OFF);
    }
  }

  async function enable() {
    const mine = session;
    if (!pushSupported()) return set(mine, PushState.UNAVAILABLE, unsupported());
    set(mine, PushState.BUSY);
    // First, before any other await: the prompt needs the click's user activation.
    let permission;
    try {
      permission = await Notification.requestPermission();
    } catch (e) {
      return set(mine, PushState.OFF, `Could not ask for permission: ${describeError(e)}`);
    }
    if (permission === "denied") return set(mine, PushState.BLOCKED, TEXT.blocked);
    if (permission !== "granted") return set(mine, PushState.OFF, TEXT.dismissed);
    let key;
    try {
      key = (await api.vapidPublicKey()).key;
    } catch (e) {
      if (e instanceof ApiError && e.status === 503) return set(mine, PushState.UNAVAILABLE, TEXT.noServer);
      return set(mine, PushState.OFF, `Could not turn notifications on: ${describeError(e)}`);
    }
    try {
      const reg = await registerWorker();
      let sub = await reg.pushManager.getSubscription();
      if (sub && !sameKey(sub.options && sub.options.applicationServerKey, key)) {
        await sub.unsubscribe(); // made for a VAPID key the server no longer has
        sub = null;
      }
      if (!sub) {
        sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64UrlToBytes(key) });
      }
      const row = await api.pushSubscribe(subscriptionBody(sub.toJSON(), deviceId()));
      if (mine !== session) return;
      subscriptionId = row.id;
      set(mine, PushState.ON);
    } catch (e) {
      set(mine, PushState.OFF, `Could not turn notifications on: ${describeError(e)}`);
    }
  }

  async function disable() {
    const mine = session;
    set(mine, PushState.BUSY);
    try {
      if (subscriptionId != null) await api.pushUnsubscribe(subscriptionId);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) {
        return set(mine, PushState.ON, `Could not turn notifications off: ${describeError(e)}`);
      }
    }
    subscriptionId = null;
    try {
      await (await currentSubscription())?.unsubscribe();
    } catch {
      /* the server no longer sends to it either way */
    }
    set(mine, PushState.OFF);
  }

  return {
    get state() {
      return state;
    },
    refresh,
    /** The control's click. */
    toggle() {
      if (state === PushState.ON) return disable();
      if (state === PushState.OFF || state === PushState.UNAVAILABLE) return enable();
      return Promise.resolve();
    },
    /**
     * Logging out: this browser stops receiving this account's pushes (the server's row and
     * the browser's subscription go). Call while the tokens are still valid.
     */
    async forget() {
      if (subscriptionId != null) await disable();
      session++;
      subscriptionId = null;
    },
    /** The session ended (logged out, or its tokens were refused): forget its state. */
    reset() {
      session++;
      subscriptionId = null;
      state = PushState.OFF;
      render(PushState.OFF, "");
    },
  };
}
