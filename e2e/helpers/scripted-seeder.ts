// Starts a scripted peer (scripted-seeder-child.ts) in its own process and talks to it over IPC: a
// real member of the site swarm that misbehaves on purpose (lies about bytes, or trickles them).

import { fork } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import type { Manifest } from '../../core/manifest-format.ts'

export interface ScriptedSeederBehaviour {
  /** Serve every piece with one byte flipped (each fails its hash). */
  corrupt: boolean
  /** Upload cap, bytes/s across all connections; -1 for none. A small one makes a trickling peer. */
  maxUploadBytesPerSec: number
}

export interface ScriptedSeederStats {
  peers: number
  uploadedBytes: number
  /**
   * Set once the process has died, with the signal or exit code: the stats are then the last it
   * reported. @roamhq/wrtc has crashed (SIGSEGV) as a dropped peer's connection closed, after the
   * liar had served its pieces (once in a CI run); what it did before still counts.
   */
  diedOf?: string
}

export interface ScriptedSeeder {
  stats(): Promise<ScriptedSeederStats>
  close(): Promise<void>
}

/** How often the child reports its stats unasked, so they outlive it. */
const REPORT_EVERY_MS = 100

export async function startScriptedSeeder(siteDir: string, manifest: Manifest, paths: string[], trackerUrl: string, behaviour: ScriptedSeederBehaviour): Promise<ScriptedSeeder> {
  const child = fork(fileURLToPath(new URL('./scripted-seeder-child.ts', import.meta.url)), [], {
    execArgv: ['--import', import.meta.resolve('tsx')],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  child.send({ type: 'start', siteDir, manifest, paths, trackerUrl, behaviour, reportEveryMs: REPORT_EVERY_MS })
  const [ready] = await once(child, 'message')
  if ((ready as { type?: string }).type !== 'ready') throw new Error('scripted seeder did not start')
  let last: ScriptedSeederStats = { peers: 0, uploadedBytes: 0 }
  child.on('message', (message: { type?: string; peers?: number; uploadedBytes?: number }) => {
    if (message.type === 'stats') last = { peers: message.peers!, uploadedBytes: message.uploadedBytes! }
  })
  const dead = () => child.exitCode !== null || child.signalCode !== null
  const diedOf = () => String(child.signalCode ?? child.exitCode)
  return {
    async stats() {
      if (dead()) return { ...last, diedOf: diedOf() }
      child.send({ type: 'stats' })
      await Promise.race([once(child, 'message'), once(child, 'exit')])
      return dead() ? { ...last, diedOf: diedOf() } : last
    },
    async close() {
      if (dead()) return
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      await exited
    },
  }
}
