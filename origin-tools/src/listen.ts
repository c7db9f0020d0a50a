// Listen with an error a person can act on.

import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { CliError } from './cli-error.ts'

export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') reject(new CliError('port-in-use', `port ${port} on ${host} is in use: stop what holds it or pass --port <n> (--port 0 picks a free one)`))
      else if (error.code === 'EACCES') reject(new CliError('port-in-use', `no permission to listen on port ${port}: use a port above 1023`))
      else reject(new CliError('port-in-use', `cannot listen on ${host}:${port}: ${error.message}`))
    }
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      resolve((server.address() as AddressInfo).port)
    })
  })
}

/** URL for people: 'localhost' reads better than 127.0.0.1 and is a secure context for service workers. */
export function displayHost(host: string): string {
  return host === '127.0.0.1' || host === '::1' || host === '0.0.0.0' || host === '::' ? 'localhost' : host
}
