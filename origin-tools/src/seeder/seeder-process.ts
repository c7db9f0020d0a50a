// Runs the seeder in a child process and restarts it if it dies. The WebRTC stack in Node
// (@roamhq/wrtc, native) was seen to segfault under heavy CPU load; `swarmcdn serve` must keep
// serving the site whatever happens to its seeder.

import { fork, type ChildProcess } from 'node:child_process'
import type { SeederOptions, SeederStats, SiteSeeder } from './site-seeder.ts'
import type { ChildMessage, ParentMessage } from './seeder-ipc.ts'
import { childEntry } from '../package-layout.ts'

/** seeder-child.ts through tsx in the repository, the bundled seeder-child.js in the package. */
const CHILD = childEntry('seeder-child')

export interface SeederProcessOptions extends SeederOptions {
  /** Told about crashes and restarts. */
  log: (line: string) => void
  /** Restarts allowed per minute before giving up (the origin keeps running). Default 5. */
  maxRestartsPerMinute?: number
}

const EMPTY_STATS: SeederStats = { torrents: 0, peers: 0, uploadedBytes: 0, uploadBytesPerSec: 0 }

export async function startSeederProcess(options: SeederProcessOptions): Promise<SiteSeeder> {
  const { onWarning, log, maxRestartsPerMinute = 5, ...seederOptions } = options
  let child: ChildProcess | null = null
  let latest: SeederStats = EMPTY_STATS
  let uploadedBefore = 0 // bytes uploaded by children that have died
  let closing = false
  const restarts: number[] = []

  const launch = () =>
    new Promise<void>((resolve, reject) => {
      const current = fork(CHILD.script, [], { execArgv: CHILD.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      child = current
      let ready = false
      current.on('message', (message: ChildMessage) => {
        if (message.type === 'ready') {
          ready = true
          resolve()
        } else if (message.type === 'failed') reject(new Error(message.message))
        else if (message.type === 'warning') onWarning?.(message.message)
        else if (message.type === 'stats') latest = message.stats
      })
      current.on('exit', (code, signal) => {
        if (closing || child !== current) return
        uploadedBefore += latest.uploadedBytes
        latest = EMPTY_STATS
        if (!ready) return reject(new Error(`seeder exited during start (${signal ?? `code ${code}`})`))
        const now = Date.now()
        while (restarts.length > 0 && now - restarts[0]! > 60_000) restarts.shift()
        if (restarts.length >= maxRestartsPerMinute) {
          log(`seeder crashed (${signal ?? `code ${code}`}) ${restarts.length + 1} times in a minute; not restarting it (the site is still served)`)
          return
        }
        restarts.push(now)
        log(`seeder crashed (${signal ?? `code ${code}`}); restarting it`)
        setTimeout(() => void launch().catch((error: Error) => log(`seeder restart failed: ${error.message}`)), 500)
      })
      const start: ParentMessage = { type: 'start', options: seederOptions }
      current.send(start)
    })

  await launch()
  return {
    stats: () => ({ ...latest, uploadedBytes: uploadedBefore + latest.uploadedBytes }),
    async close() {
      closing = true
      const current = child
      if (!current || current.exitCode !== null || current.signalCode !== null) return
      await new Promise<void>((resolve) => {
        const kill = setTimeout(() => current.kill('SIGKILL'), 5000)
        current.once('exit', () => {
          clearTimeout(kill)
          resolve()
        })
        const close: ParentMessage = { type: 'close' }
        // A Ctrl-C reaches the whole process group: the child may be dying already. With a callback a
        // failed send is not an unhandled 'error' (a stack trace on exit); 'exit' above still resolves.
        current.send(close, () => {})
      })
    },
  }
}
