// A DevTools protocol session on a service worker, from outside the page. Playwright opens CDP
// sessions on pages only, so this attaches to the worker's target from a browser session, the
// non-flattened way: commands and replies travel inside Target messages. Used by the SW heap test
// (worker-heap.ts) and bench:net's SW CPU profiles (scripts/bench-net/worker-profiler.ts).

import type { Browser, CDPSession } from 'playwright-core'

export interface ServiceWorkerCdp {
  /** A command's result (or its error object); with timeoutMs, undefined when no answer came in time. */
  send(method: string, params?: object, timeoutMs?: number): Promise<any>
  close(): Promise<void>
}

/** Attaches to the first service worker whose script URL `matches`; throws when there is none. */
export async function attachServiceWorkerCdp(browser: Browser, matches: (scriptUrl: string) => boolean): Promise<ServiceWorkerCdp> {
  const cdp: CDPSession = await browser.newBrowserCDPSession()
  const { targetInfos } = (await cdp.send('Target.getTargets')) as { targetInfos: Array<{ targetId: string; type: string; url: string }> }
  const target = targetInfos.find((info) => info.type === 'service_worker' && matches(info.url))
  if (!target) {
    await cdp.detach().catch(() => undefined)
    throw new Error(`no matching service worker target: ${targetInfos.map((t) => `${t.type} ${t.url}`).join(', ')}`)
  }
  const { sessionId } = (await cdp.send('Target.attachToTarget', { targetId: target.targetId, flatten: false })) as { sessionId: string }
  let nextId = 1
  const waiting = new Map<number, (result: any) => void>()
  cdp.on('Target.receivedMessageFromTarget', (event: { sessionId: string; message: string }) => {
    if (event.sessionId !== sessionId) return
    const message = JSON.parse(event.message)
    waiting.get(message.id)?.(message.result ?? message.error)
    waiting.delete(message.id)
  })
  return {
    send: (method, params = {}, timeoutMs) =>
      new Promise<any>((resolve) => {
        const id = nextId++
        waiting.set(id, resolve)
        void cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) }).catch(() => resolve(undefined))
        if (timeoutMs !== undefined) setTimeout(() => resolve(undefined), timeoutMs)
      }),
    async close() {
      await cdp.send('Target.detachFromTarget', { sessionId }).catch(() => undefined)
      await cdp.detach().catch(() => undefined)
    },
  }
}
