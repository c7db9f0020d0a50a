// For tests of the site swarm in Node: the real tracker on a free port admitting one swarm, and the
// bytes of a piece of a test asset.

import { createServer } from 'node:http'
import { pieceSize } from '../../core/piece-math.ts'
import { SwarmTracker } from '../../origin-tools/src/tracker/swarm-tracker.ts'

export async function startTracker(swarmId: string): Promise<{ url: string; close(): Promise<void> }> {
  const tracker = new SwarmTracker({ admission: { swarmIds: new Set([swarmId]) } })
  const server = createServer()
  server.on('upgrade', (request, socket, head) => tracker.handleUpgrade(request, socket, head))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  return {
    url: `ws://127.0.0.1:${port}/`,
    async close() {
      await tracker.close()
      server.close()
    },
  }
}

export function pieceBytes(bytes: Uint8Array, asset: { length: number; pieceLength: number }, index: number): Uint8Array {
  const start = index * asset.pieceLength
  return new Uint8Array(bytes.subarray(start, start + pieceSize(index, asset.length, asset.pieceLength)))
}
