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

export interface ScriptedSeeder {
  stats(): Promise<{ peers: number; uploadedBytes: number }>
  close(): Promise<void>
}

export async function startScriptedSeeder(siteDir: string, manifest: Manifest, paths: string[], trackerUrl: string, behaviour: ScriptedSeederBehaviour): Promise<ScriptedSeeder> {
  const child = fork(fileURLToPath(new URL('./scripted-seeder-child.ts', import.meta.url)), [], {
    execArgv: ['--import', import.meta.resolve('tsx')],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  child.send({ type: 'start', siteDir, manifest, paths, trackerUrl, behaviour })
  const [ready] = await once(child, 'message')
  if ((ready as { type?: string }).type !== 'ready') throw new Error('scripted seeder did not start')
  return {
    async stats() {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`scripted seeder died (${child.signalCode ?? child.exitCode})`)
      child.send({ type: 'stats' })
      const [reply] = await once(child, 'message')
      return reply as { peers: number; uploadedBytes: number }
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      await exited
    },
  }
}
