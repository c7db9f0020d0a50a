// Reaching a server inside a namespace from the host's namespace without a route or a rule: this
// relay runs inside the namespace (netns-process.ts) and forwards each connection on a Unix socket
// (file system, not network, so visible from every namespace) to host:port there. The host side then
// speaks HTTP over the socket (`httpGetViaSocket`).
//
//   node --import tsx e2e/net/unix-socket-relay.ts <socket-path> <host> <port>

import { createServer, connect } from 'node:net'
import { request } from 'node:http'
import { rmSync } from 'node:fs'

/** GET `path` over the relay's socket; resolves with the status and body text. */
export function httpGetViaSocket(socketPath: string, path: string, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'GET', headers: { Host: 'origin' }, timeout: timeoutMs }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (body += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`GET ${path} via ${socketPath} timed out`)))
    req.on('error', reject)
    req.end()
  })
}

export async function getJsonViaSocket<T>(socketPath: string, path: string): Promise<T> {
  const { status, body } = await httpGetViaSocket(socketPath, path)
  if (status !== 200) throw new Error(`GET ${path}: HTTP ${status}`)
  return JSON.parse(body) as T
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [socketPath, host, port] = process.argv.slice(2)
  if (!socketPath || !host || !port) {
    console.error('usage: unix-socket-relay.ts <socket-path> <host> <port>')
    process.exit(2)
  }
  rmSync(socketPath, { force: true })
  const server = createServer((client) => {
    const upstream = connect(Number(port), host)
    client.pipe(upstream).pipe(client)
    const close = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on('error', close)
    upstream.on('error', close)
  })
  server.listen(socketPath, () => console.log(`relay ${socketPath} -> ${host}:${port} ready`))
  process.on('SIGTERM', () => server.close(() => process.exit(0)))
}
