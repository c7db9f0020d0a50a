// Starts the lying peer (corrupt-seeder-child.ts) in its own process and talks to it over IPC.

import { fork } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import type { Manifest } from '../../core/manifest-format.ts'

export interface CorruptSeeder {
  stats(): Promise<{ peers: number; uploadedBytes: number }>
  close(): Promise<void>
}

export async function startCorruptSeeder(siteDir: string, manifest: Manifest, paths: string[], trackerUrl: string): Promise<CorruptSeeder> {
  const child = fork(fileURLToPath(new URL('./corrupt-seeder-child.ts', import.meta.url)), [], {
    execArgv: ['--import', import.meta.resolve('tsx')],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  child.send({ type: 'start', siteDir, manifest, paths, trackerUrl })
  const [ready] = await once(child, 'message')
  if ((ready as { type?: string }).type !== 'ready') throw new Error('corrupt seeder did not start')
  return {
    async stats() {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`corrupt seeder died (${child.signalCode ?? child.exitCode})`)
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
