// The seeder's own process (forked by seeder-process.ts). WebRTC in Node is native code that can
// crash under load; here a crash takes down only the seeder, never the origin that forked it.

import { startSeeder, type SeederOptions, type SiteSeeder } from './site-seeder.ts'
import type { ParentMessage, ChildMessage } from './seeder-ipc.ts'

const send = (message: ChildMessage) => process.send?.(message)
let seeder: SiteSeeder | null = null

process.on('message', async (message: ParentMessage) => {
  if (message.type === 'start') {
    try {
      const options: SeederOptions = { ...message.options, onWarning: (text) => send({ type: 'warning', message: text }) }
      seeder = await startSeeder(options)
      send({ type: 'ready' })
      setInterval(() => seeder && send({ type: 'stats', stats: seeder.stats() }), 1000).unref()
    } catch (error) {
      send({ type: 'failed', message: (error as Error).message })
      process.exit(1)
    }
  } else if (message.type === 'close') {
    await seeder?.close().catch(() => undefined)
    process.exit(0)
  }
})
// The parent went away: nothing left to seed for.
process.on('disconnect', () => process.exit(0))
