// The comparison service worker: Workbox CacheFirst for the page's assets, nothing else. It takes
// control at once (skipWaiting + clients.claim) like swarmcdn's, so both are timed while controlling.

import { registerRoute } from 'workbox-routing'
import { CacheFirst } from 'workbox-strategies'

declare const self: ServiceWorkerGlobalScope
/** Set by the bundler (sites.ts). */
declare const WORKBOX_CACHE_NAME: string

self.addEventListener('install', () => void self.skipWaiting())
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()))

registerRoute(
  ({ url }) => url.origin === self.location.origin && (url.pathname.startsWith('/media/') || url.pathname.startsWith('/downloads/')),
  new CacheFirst({ cacheName: WORKBOX_CACHE_NAME }),
)
