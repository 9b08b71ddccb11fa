// The service worker: it shows the agent's Web Push notices ("your turn:
// pay at the kiosk now", "your case is ready") while the page is closed,
// and opens the page when one is tapped. The agent writes the text, in the
// customer's language.

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('push', (event) => {
  let n = {};
  try {
    n = event.data ? event.data.json() : {};
  } catch {
    n = { title: event.data ? event.data.text() : '' };
  }
  event.waitUntil(self.registration.showNotification(n.title || 'casefleet', {
    body: n.body || '',
    tag: n.tag,
    renotify: true,
    requireInteraction: n.kind === 'pay',
    lang: n.lang,
    dir: n.dir || 'auto',
    data: { url: n.url || '/' },
    vibrate: [250, 120, 250],
  }));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = new URL(event.notification.data?.url || '/', self.location.origin);
  event.waitUntil((async () => {
    const open = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    for (const client of open) {
      if (new URL(client.url).pathname === url.pathname && 'focus' in client) return client.focus();
    }
    return self.clients.openWindow(url.href);
  })());
});
