// Firefox ESR from Debian's packages, driven over WebDriver BiDi by playwright-core 1.64 (installed
// as the alias playwright-core-firefox: 1.65, which drives Chromium here, needs a newer Firefox).
// Its Page is the same API as Chromium's, so the scenarios in e2e/helpers/scenarios.ts run on both.

import { firefox, type Browser } from 'playwright-core-firefox'
import { before, after } from 'node:test'
import type { Page } from 'playwright-core'
import { KEEP_NAMES_SHIM, requireBinary, skipWithout } from './browser.ts'
import type { OpenVisitor } from './scenarios.ts'

export const FIREFOX_PATH = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr'
export const skipWithoutFirefox = skipWithout('Firefox ESR', FIREFOX_PATH, 'firefox-esr')

export async function launchFirefox(): Promise<Browser> {
  requireBinary('Firefox ESR', FIREFOX_PATH, 'firefox-esr')
  return firefox.launch({
    channel: 'moz-firefox',
    executablePath: FIREFOX_PATH,
    headless: true,
    firefoxUserPrefs: {
      // Plain local IPs in ICE candidates, as Chromium's flag does: mDNS names can fail to resolve here.
      'media.peerconnection.ice.obfuscate_host_addresses': false,
      'media.autoplay.default': 0,
    },
  })
}

/** One Firefox per test file, launched before its tests when Firefox is to run, closed after them. */
export function firefoxSuite(): { open: OpenVisitor } {
  let browser: Browser | undefined
  before(async () => {
    if (!skipWithoutFirefox) browser = await launchFirefox()
  })
  after(async () => {
    await browser?.close()
  })
  return {
    async open() {
      const context = await browser!.newContext()
      await context.addInitScript(KEEP_NAMES_SHIM)
      const page = await context.newPage()
      page.once('close', () => void context.close().catch(() => undefined))
      // Playwright 1.64's Page type is 1.65's in all the scenarios use.
      return page as unknown as Page
    },
  }
}
