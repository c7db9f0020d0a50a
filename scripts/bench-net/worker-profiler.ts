// A CPU profile of a page's service worker, through the browser's DevTools protocol: Playwright
// opens CDP sessions on pages only, so this attaches to the worker's target from a browser session
// (the non-flat way: commands and replies travel inside Target messages).

import type { Browser, CDPSession } from 'playwright-core'

export interface WorkerProfiler {
  /** The profile (.cpuprofile JSON), or null when it could not be taken. */
  stop(): Promise<unknown | null>
}

export async function startWorkerProfiler(browser: Browser, origin: string): Promise<WorkerProfiler | null> {
  let session: CDPSession
  try {
    session = await browser.newBrowserCDPSession()
  } catch {
    return null
  }
  const { targetInfos } = (await session.send('Target.getTargets')) as { targetInfos: Array<{ targetId: string; type: string; url: string }> }
  const worker = targetInfos.find((target) => target.type === 'service_worker' && target.url.startsWith(origin))
  if (!worker) return null
  const { sessionId } = (await session.send('Target.attachToTarget', { targetId: worker.targetId, flatten: false })) as { sessionId: string }
  let nextId = 1
  const replies = new Map<number, (result: unknown) => void>()
  session.on('Target.receivedMessageFromTarget', (event: { sessionId: string; message: string }) => {
    if (event.sessionId !== sessionId) return
    const message = JSON.parse(event.message) as { id?: number; result?: unknown }
    if (message.id !== undefined) replies.get(message.id)?.(message.result ?? null)
  })
  const call = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve) => {
      const id = nextId++
      replies.set(id, resolve)
      void session.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) }).catch(() => resolve(null))
      setTimeout(() => resolve(null), 10_000)
    })
  await call('Profiler.enable')
  await call('Profiler.start')
  return {
    async stop() {
      const result = (await call('Profiler.stop')) as { profile?: unknown } | null
      await session.detach().catch(() => undefined)
      return result?.profile ?? null
    },
  }
}
