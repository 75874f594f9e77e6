// natter's service worker: the page's offline shell, and Web Push
// notifications. Served at /sw.js so that its scope is the whole site.
//
// The build fills in the shell's files and a version made from the page's
// bytes: a server whose page changed installs a new worker, which caches
// the new shell and deletes the old one.

const VERSION = '__NATTER_SHELL_VERSION__';
const CACHE = 'natter-shell-' + VERSION;
const SHELL = __NATTER_SHELL_FILES__;

self.addEventListener('install', (event) => {
  // `reload`: the shell comes from the server, not from the HTTP cache.
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL.map((path) => new Request(path, { cache: 'reload' }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) {
        if (key.startsWith('natter-shell-') && key !== CACHE) await caches.delete(key);
      }
      await self.clients.claim();
    })(),
  );
});

// Network first, the cached shell when the server cannot be reached: a
// server that is up always serves its current page. Only the shell's own
// files are ever answered from the cache; /api/ answers never are (they
// are the user's data, and stale ones would mislead).
self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin || url.pathname.startsWith('/api/')) return;
  if (req.mode === 'navigate') {
    event.respondWith(fetch(req).catch(() => fromShell('/')));
  } else if (SHELL.includes(url.pathname)) {
    event.respondWith(fetch(req).catch(() => fromShell(url.pathname)));
  }
});

async function fromShell(path) {
  const cache = await caches.open(CACHE);
  return (await cache.match(path)) || Response.error();
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// A push: {conversation_id, conversation_name, sender, text, message_id}.
// One notification per conversation (its tag): a newer message replaces it.
self.addEventListener('push', (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (e) {
    data = {};
  }
  const id = UUID.test(data.conversation_id || '') ? data.conversation_id : null;
  const title = data.conversation_name || 'natter';
  const body = data.sender ? data.sender + ': ' + (data.text || '') : data.text || 'New message';
  event.waitUntil(
    self.registration.showNotification(title, {
      body,
      tag: id || 'natter',
      renotify: true,
      icon: '/static/icons/icon-192.png',
      data: { conversation_id: id },
    }),
  );
});

// Open the conversation: in a natter window if one is open (the page
// follows the message), else in a new one at its URL.
self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const id = event.notification.data && event.notification.data.conversation_id;
  const target = id ? '/#/c/' + id : '/';
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
      const open = windows.find((w) => new URL(w.url).origin === self.location.origin);
      if (open) {
        await open.focus();
        if (id) open.postMessage({ type: 'natter.open', conversation_id: id });
        return;
      }
      await self.clients.openWindow(target);
    })(),
  );
});
