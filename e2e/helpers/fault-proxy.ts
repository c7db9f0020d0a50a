// A reverse proxy in front of a real origin that stalls chosen requests: it never answers (no
// headers), or it answers and sends the first bytes of the body, then nothing, ever; or it passes a
// request on only after a delay (a slow script). The page is
// opened through the proxy, so the service worker's Range requests go through it too. WebSocket
// upgrades (the tracker) are piped through untouched.

import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import { connect } from 'node:net'
import type { AddressInfo } from 'node:net'

/** What to do with one request: pass it on, never answer, stop the body after `afterBytes`, or pass it on `ms` late. */
export type ProxyFault = { kind: 'hang' } | { kind: 'stall'; afterBytes: number } | { kind: 'delay'; ms: number } | undefined

export interface ProxiedRequest {
  path: string
  range: string | null
  /** Parsed start of `bytes=a-b`, or null. */
  rangeStart: number | null
  fault: NonNullable<ProxyFault>['kind'] | 'none'
  /** When the request reached the proxy (Date.now()). */
  atMs: number
  /** The client closed the connection before the body ended (what an aborted fetch does). */
  abortedByClient: boolean
}

export interface FaultProxy {
  /** http://127.0.0.1:port */
  origin: string
  requests: ProxiedRequest[]
  close(): Promise<void>
}

/** `decide` sees each request (and how many earlier requests had the same path) and picks a fault. */
export async function startFaultProxy(target: string, decide: (request: Omit<ProxiedRequest, 'fault' | 'atMs' | 'abortedByClient'>, samePathBefore: number) => ProxyFault): Promise<FaultProxy> {
  const upstream = new URL(target)
  const requests: ProxiedRequest[] = []
  const tunnels = new Set<{ destroy(): void }>()

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://proxy').pathname
    const range = typeof req.headers.range === 'string' ? req.headers.range : null
    const match = range ? /^bytes=(\d+)-/.exec(range) : null
    const seen = { path, range, rangeStart: match ? Number(match[1]) : null }
    const samePathBefore = requests.filter((r) => r.path === path).length
    const fault = decide(seen, samePathBefore)
    const record: ProxiedRequest = { ...seen, fault: fault?.kind ?? 'none', atMs: Date.now(), abortedByClient: false }
    requests.push(record)
    let finished = false
    res.on('finish', () => (finished = true))
    res.on('close', () => {
      if (!finished) record.abortedByClient = true
    })
    if (fault?.kind === 'hang') return // headers never come; the socket stays open until the client gives up

    const forwardNow = () => {
      const forward = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers)
          if (fault?.kind !== 'stall') {
            answer.pipe(res)
            return
          }
          let sent = 0
          answer.on('data', (chunk: Buffer) => {
            const room = fault.afterBytes - sent
            if (room <= 0) return
            res.write(chunk.subarray(0, room))
            sent += Math.min(room, chunk.length)
            if (sent >= fault.afterBytes) answer.destroy() // nothing more from the origin; the client waits forever
          })
        },
      )
      forward.on('error', () => res.destroy())
      res.on('close', () => forward.destroy())
      req.pipe(forward)
    }
    if (fault?.kind === 'delay') setTimeout(forwardNow, fault.ms)
    else forwardNow()
  })

  server.on('upgrade', (req, socket, head) => {
    const tunnel = connect(Number(upstream.port), upstream.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`]
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`)
      tunnel.write(lines.join('\r\n') + '\r\n\r\n')
      if (head.length > 0) tunnel.write(head)
      tunnel.pipe(socket)
      socket.pipe(tunnel)
    })
    tunnels.add(tunnel).add(socket)
    tunnel.on('error', () => socket.destroy())
    socket.on('error', () => tunnel.destroy())
  })

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    async close() {
      for (const socket of tunnels) socket.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
