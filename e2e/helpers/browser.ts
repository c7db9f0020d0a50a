// Chromium from Debian's packages, driven by playwright-core (which never downloads a browser).

import { chromium, type Browser } from 'playwright-core'
import { existsSync } from 'node:fs'

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
export const hasChromium = existsSync(CHROMIUM_PATH)
export const skipWithoutChromium = hasChromium ? false : `Chromium not found at ${CHROMIUM_PATH} (apt-get install chromium; .ci/run does)`

/**
 * The `skip` option of a test that needs a browser binary: false when it is there; a message when it
 * is missing on a developer's machine; false in CI (CI=true), where the launch then fails loudly
 * instead of the browser quietly dropping out of the matrix.
 */
export function skipWithout(name: string, path: string, debianPackage: string): false | string {
  if (existsSync(path) || process.env.CI === 'true') return false
  return `${name} not found at ${path} (apt-get install ${debianPackage}; .ci/run does)`
}

/** Throws a clear error when a browser binary is missing (reached in CI, where its tests are not skipped). */
export function requireBinary(name: string, path: string, debianPackage: string): void {
  if (!existsSync(path)) throw new Error(`${name} not found at ${path}: CI needs it (apt-get install ${debianPackage}; .ci/run installs it)`)
}

// tsx compiles tests with esbuild's keepNames, which wraps named functions in __name(); functions
// that Playwright evaluates in the page carry that call, so every page gets a no-op __name.
export const KEEP_NAMES_SHIM = 'globalThis.__name = globalThis.__name || ((fn) => fn)'

export interface ChromiumOptions {
  /** Keep Playwright's back/forward cache on (it turns it off by default), for a test of restored pages. */
  backForwardCache?: boolean
}

export async function launchChromium(options: ChromiumOptions = {}): Promise<Browser> {
  const browser = await launchRaw(options)
  const newContext = browser.newContext.bind(browser)
  browser.newContext = async (options) => {
    const context = await newContext(options)
    await context.addInitScript(KEEP_NAMES_SHIM)
    return context
  }
  browser.newPage = async (options) => {
    const context = await browser.newContext(options)
    const page = await context.newPage()
    page.once('close', () => void context.close().catch(() => undefined))
    return page
  }
  return browser
}

/** What every test browser needs here: no sandbox (root), no GPU, and none of the network calls this closed machine refuses. */
export const HEADLESS_CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

function launchRaw(options: ChromiumOptions): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    ignoreDefaultArgs: options.backForwardCache ? ['--disable-back-forward-cache'] : undefined,
    args: [
      ...HEADLESS_CHROMIUM_ARGS,
      // Plain local IPs in ICE candidates: mDNS names can fail to resolve in containers.
      '--disable-features=WebRtcHideLocalIpsWithMdns',
      // Let a video play without a user gesture.
      '--autoplay-policy=no-user-gesture-required',
    ],
  })
}
