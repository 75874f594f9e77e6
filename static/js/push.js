// The service worker (the offline shell, notifications) and Web Push: the
// "Enable notifications on this device" control in the profile dialog, and
// forgetting this device's subscription on logout. Notifications are shown
// by /sw.js; opening one brings the page here with a conversation to show.

import { ApiError, api } from './api.js';
import { $ } from './dom.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UNAVAILABLE = 'push is not available here';
const ONLY_OPEN = 'on while natter is open (push is off)';

function pushable() {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

function show(text, on) {
  $('push-status').textContent = text;
  $('push-button').textContent = on ? 'Turn notifications off on this device' : 'Enable notifications on this device';
  $('push-button').dataset.on = on ? '1' : '';
}

/** The registration, if the worker registered (never waits for one that did not). */
export async function registration() {
  if (!('serviceWorker' in navigator)) return null;
  return (await navigator.serviceWorker.getRegistration('/')) || null;
}

/** Where this device stands, as the status line says it. */
export async function renderPushStatus() {
  if (!pushable()) return show(UNAVAILABLE, false);
  if (Notification.permission === 'denied') return show('blocked by the browser', false);
  try {
    const reg = await registration();
    const sub = reg && (await reg.pushManager.getSubscription());
    if (sub) return show('on', true);
    // Allowed without a push subscription: notifications come while a
    // natter page is open (notify.js), not when it is closed.
    show(Notification.permission === 'granted' ? ONLY_OPEN : 'off', false);
  } catch (e) {
    show(UNAVAILABLE, false);
  }
}

function applicationServerKey(base64url) {
  const b64 = base64url.replace(/-/g, '+').replace(/_/g, '/');
  const raw = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

/** The active worker's registration: subscribing needs one. Null if none comes soon. */
export function activeRegistration() {
  const late = new Promise((resolve) => setTimeout(() => resolve(null), 5000));
  return Promise.race([navigator.serviceWorker.ready, late]);
}

async function enable() {
  if (!pushable()) return show(UNAVAILABLE, false);
  show('asking the browser…', false);
  const permission = await Notification.requestPermission();
  if (permission === 'denied') return show('blocked by the browser', false);
  if (permission !== 'granted') return show('off: the browser was not allowed to show notifications', false);
  try {
    const reg = await activeRegistration();
    if (!reg) return show(ONLY_OPEN + ': ' + UNAVAILABLE, false);
    const { public_key: key } = await api('GET', '/api/push/key');
    const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: applicationServerKey(key) });
    await api('POST', '/api/push/subscriptions', sub.toJSON());
    show('on', true);
  } catch (e) {
    // No push service (headless browsers, some privacy settings): subscribe
    // fails, but the permission holds for notifications while open.
    show(ONLY_OPEN + ': ' + (e instanceof ApiError ? e.message : UNAVAILABLE), false);
  }
}

async function disable() {
  await forgetPush();
  await renderPushStatus();
}

/**
 * Unsubscribe this device and tell the server (before logging out: after,
 * the request would not be the user's any more). Never holds a logout up
 * for long.
 */
export async function forgetPush() {
  const work = (async () => {
    const reg = await registration();
    const sub = reg && (await reg.pushManager.getSubscription());
    if (!sub) return;
    await api('DELETE', '/api/push/subscriptions?endpoint=' + encodeURIComponent(sub.endpoint)).catch(() => {});
    await sub.unsubscribe();
  })().catch(() => {});
  await Promise.race([work, new Promise((r) => setTimeout(r, 3000))]);
}

/** Register the worker and wire the control. */
export function wirePush() {
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/sw.js').catch(() => {});
    // A notification clicked while this page is open: show its conversation.
    navigator.serviceWorker.addEventListener('message', (e) => {
      const id = e.data && e.data.type === 'natter.open' && e.data.conversation_id;
      if (id && UUID.test(id)) location.hash = '#/c/' + id;
    });
  }
  $('push-button').addEventListener('click', () => ($('push-button').dataset.on ? disable() : enable()));
  $('profile-button').addEventListener('click', renderPushStatus);
  renderPushStatus();
}
