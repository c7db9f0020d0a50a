// Headless Chromium inside a network namespace: Playwright is handed a small wrapper executable,
// `exec ip netns exec <ns> chromium "$@"`, as its browser, so the browser and every process it starts
// use that namespace's network and nothing else (Playwright talks to it over a pipe, not the network).

import { chromium, type Browser, type BrowserContext, type BrowserContextOptions } from 'playwright-core'
import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CHROMIUM_PATH, HEADLESS_CHROMIUM_ARGS } from '../helpers/browser.ts'

export interface NetnsChromiumOptions {
  /** Folder for the wrapper script. */
  workDir: string
  /** http:// origins to treat as secure contexts (service workers need one; http://203.0.113.10 is not). */
  secureOrigins: string[]
  /** Extra Chromium flags. */
  args?: string[]
}

// tsx compiles with esbuild's keepNames: functions Playwright evaluates in the page call __name().
const KEEP_NAMES_SHIM = 'globalThis.__name = globalThis.__name || ((fn) => fn)'

/** Flags that keep eight browsers on two cores lean: no GPU, no background services, no throttling of the one tab. */
export const LEAN_CHROMIUM_ARGS = [
  ...HEADLESS_CHROMIUM_ARGS,
  '--disable-extensions',
  '--disable-default-apps',
  '--mute-audio',
  '--autoplay-policy=no-user-gesture-required',
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
  // Plain LAN addresses in host candidates (no mDNS names, which nothing here could resolve).
  '--disable-features=WebRtcHideLocalIpsWithMdns,Translate,OptimizationHints,MediaRouter,site-per-process',
]

export async function launchChromiumInNamespace(ns: string, options: NetnsChromiumOptions): Promise<Browser> {
  await mkdir(options.workDir, { recursive: true })
  const wrapper = join(options.workDir, `chromium-in-${ns}.sh`)
  await writeFile(wrapper, `#!/bin/sh\nexec ip netns exec '${ns}' '${CHROMIUM_PATH}' "$@"\n`)
  await chmod(wrapper, 0o755)
  const browser = await chromium.launch({
    executablePath: wrapper,
    headless: true,
    args: [
      ...LEAN_CHROMIUM_ARGS,
      ...(options.secureOrigins.length > 0 ? [`--unsafely-treat-insecure-origin-as-secure=${options.secureOrigins.join(',')}`] : []),
      ...(options.args ?? []),
    ],
  })
  return browser
}

/** A context with the keepNames shim, so page.evaluate() of tsx-compiled functions works. */
export async function newShimmedContext(browser: Browser, options: BrowserContextOptions = {}): Promise<BrowserContext> {
  const context = await browser.newContext(options)
  await context.addInitScript(KEEP_NAMES_SHIM)
  return context
}
