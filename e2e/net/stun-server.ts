// A STUN server: Debian's coturn as `turnserver --stun-only`: no config file, no TLS, its pid file and
// (unused) user database in our scratch folder rather than /var. -v makes it log when its UDP
// listener is open, which is the ready signal.

import { join } from 'node:path'
import { startInNamespace, type NetnsProcess } from './netns-process.ts'

export async function startStunServer(ns: string, ip: string, port: number, workDir: string): Promise<NetnsProcess> {
  return startInNamespace(ns, 'turnserver --stun-only', 'turnserver', [
    '-n', '-v', '--stun-only', '--no-cli', '--no-tls', '--no-dtls',
    '--listening-ip', ip, '--listening-port', String(port),
    '--log-file', 'stdout', '--simple-log', '--no-software-attribute',
    '--pidfile', join(workDir, 'turnserver.pid'), '--userdb', join(workDir, 'turndb'),
  ], { ready: /UDP listener opened/, timeoutMs: 10_000 })
}
