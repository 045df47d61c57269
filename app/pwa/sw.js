// The page's service worker: after the first visit the page works offline.
// scripts/offline.mjs fills in VERSION (a hash of the built files) and the file lists at
// build time, so every deployment gets its own cache and the old one is deleted when the
// new worker takes over. Requests go to the network first, so an online visit always gets
// the deployment on the server; the cache answers only when the network does not.
// The datasets are not here: the page keeps them in its own cache (app/src/fetch.rs).
const VERSION = '__VERSION__';
// Files every visit needs, cached when this worker installs.
const PRECACHE = __PRECACHE__;
// Files only some runs need (the burn-wgpu bundle, 17 MB), cached the first time they load.
const ON_USE = __ON_USE__;
const PREFIX = 'webgpu-mnist-shell-';
const CACHE = PREFIX + VERSION;

const scoped = (file) => new URL(file, self.registration.scope).href;

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    // 'reload' skips the HTTP cache, so the files are this deployment's.
    await cache.addAll(PRECACHE.map((file) => new Request(scoped(file), { cache: 'reload' })));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    const names = await caches.keys();
    await Promise.all(names.filter((n) => n.startsWith(PREFIX) && n !== CACHE).map((n) => caches.delete(n)));
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET' || new URL(request.url).origin !== self.location.origin) return;
  event.respondWith(networkFirst(event, request));
});

async function networkFirst(event, request) {
  const url = new URL(request.url);
  const file = url.href.startsWith(self.registration.scope) ? url.pathname.slice(new URL(self.registration.scope).pathname.length) : null;
  try {
    const response = await fetch(request);
    if (response.ok && ON_USE.includes(file)) {
      const copy = response.clone();
      event.waitUntil(caches.open(CACHE).then((cache) => cache.put(scoped(file), copy)));
    }
    return response;
  } catch (offline) {
    const cache = await caches.open(CACHE);
    // Any address in the scope that is a page (?embed, ?lesson=…) is the one index.html.
    const key = request.mode === 'navigate' ? scoped('index.html') : file !== null ? scoped(file) : null;
    const hit = key && await cache.match(key);
    if (hit) return hit;
    throw offline;
  }
}
