// WebKitGTK from Debian's packages (webkit2gtk-driver): WebKitWebDriver drives MiniBrowser on an Xvfb
// display over classic WebDriver HTTP, spoken here with fetch (a dozen lines need no client library).
// This WebKit has service workers, IndexedDB and WebCrypto but no RTCPeerConnection.

import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { existsSync } from 'node:fs'
import { requireBinary } from './browser.ts'

export const WEBKIT_DRIVER_PATH = process.env.WEBKIT_DRIVER_PATH ?? '/usr/bin/WebKitWebDriver'
export const MINIBROWSER_PATH = process.env.MINIBROWSER_PATH ?? '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser'
export const XVFB_PATH = process.env.XVFB_PATH ?? '/usr/bin/Xvfb'

const parts: Array<[string, string, string]> = [
  ['WebKitWebDriver', WEBKIT_DRIVER_PATH, 'webkit2gtk-driver'],
  ['MiniBrowser', MINIBROWSER_PATH, 'webkit2gtk-driver'],
  ['Xvfb', XVFB_PATH, 'xvfb'],
]
const missing = parts.filter(([, path]) => !existsSync(path))
/** Skips only on a developer's machine without the packages; in CI (CI=true) the launch fails instead. */
export const skipWithoutWebKit = missing.length === 0 || process.env.CI === 'true'
  ? false
  : `${missing.map(([name, path]) => `${name} not found at ${path}`).join(', ')} (apt-get install webkit2gtk-driver xvfb; .ci/run does)`

export interface WebKitSession {
  navigate(url: string): Promise<void>
  /** Runs an async function in the page with JSON arguments; resolves with its JSON result. */
  run<A extends unknown[], R>(fn: (...args: A) => Promise<R> | R, ...args: A): Promise<R>
  close(): Promise<void>
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    }).on('error', reject)
  })
}

/** Starts Xvfb on a free display (it prints the number on fd 3). */
function startXvfb(): Promise<{ child: ChildProcess; display: string }> {
  const child = spawn(XVFB_PATH, ['-displayfd', '3', '-screen', '0', '1280x800x24', '-nolisten', 'tcp'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] })
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdio[3]!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      if (out.includes('\n')) resolve({ child, display: `:${out.trim()}` })
    })
    child.once('exit', (code) => reject(new Error(`Xvfb exited ${code} before it was ready`)))
  })
}

async function waitForDriver(base: string, child: ChildProcess): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (child.exitCode !== null) throw new Error(`WebKitWebDriver exited ${child.exitCode}`)
    const ready = await fetch(`${base}/status`).then((res) => res.ok, () => false)
    if (ready) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error('WebKitWebDriver did not answer /status')
}

export async function launchWebKit(): Promise<WebKitSession> {
  for (const [name, path, pkg] of parts) requireBinary(name, path, pkg)
  const xvfb = await startXvfb()
  const port = await freePort()
  const driver = spawn(WEBKIT_DRIVER_PATH, [`--port=${port}`], { stdio: 'ignore', env: { ...process.env, DISPLAY: xvfb.display } })
  const base = `http://127.0.0.1:${port}`
  const stop = () => {
    driver.kill()
    xvfb.child.kill()
  }
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(base + path, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })
    const json = (await res.json()) as { value: any }
    if (!res.ok) throw new Error(`WebDriver ${method} ${path}: ${JSON.stringify(json.value)}`)
    return json.value
  }
  let id: string
  try {
    await waitForDriver(base, driver)
    const session = await call('POST', '/session', {
      capabilities: { alwaysMatch: { 'webkitgtk:browserOptions': { binary: MINIBROWSER_PATH, args: ['--automation'] }, timeouts: { script: 60_000, pageLoad: 60_000 } } },
    })
    id = session.sessionId
  } catch (error) {
    stop()
    throw error
  }
  return {
    async navigate(url) {
      await call('POST', `/session/${id}/url`, { url })
    },
    async run(fn, ...args) {
      // The `__name` no-op: tsx compiles with keepNames, which wraps named functions in __name().
      const script = `const done = arguments[arguments.length - 1]; const __name = (f) => f;
        Promise.resolve().then(() => (${fn.toString()})(...Array.from(arguments).slice(0, -1)))
          .then((value) => done({ value }), (error) => done({ error: String(error && error.stack || error) }))`
      const result = await call('POST', `/session/${id}/execute/async`, { script, args })
      if (result?.error) throw new Error(`in WebKit: ${result.error}`)
      return result?.value
    },
    async close() {
      await call('DELETE', `/session/${id}`).catch(() => undefined)
      stop()
    },
  }
}
