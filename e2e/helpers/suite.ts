// Shared set-up of the browser suites: one Chromium per file, demo sites closed at the end.

import { before, after } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { launchChromium, skipWithoutChromium } from './browser.ts'
import { startDemoSite, type DemoSite, type DemoSiteOptions } from './demo-site.ts'

export interface BrowserSuite {
  browser(): Browser
  /** A new visitor: a page in a fresh context, closed with the page. */
  open(): Promise<Page>
  /** A demo site under `swarmcdn serve`, without a seeder unless asked. */
  site(options?: DemoSiteOptions): Promise<DemoSite>
}

export function browserSuite(): BrowserSuite {
  let browser: Browser | undefined
  const sites: DemoSite[] = []
  before(async () => {
    if (!skipWithoutChromium) browser = await launchChromium()
  })
  after(async () => {
    await browser?.close()
    for (const site of sites) await site.close()
  })
  return {
    browser: () => browser!,
    open: () => browser!.newPage(),
    async site(options = {}) {
      const s = await startDemoSite({ seed: false, ...options })
      sites.push(s)
      return s
    },
  }
}

/** Resolves when every <img> finished; true when all decoded. */
export async function imagesLoaded(page: Page): Promise<boolean> {
  await page.waitForFunction(() => Array.from(document.images).every((img) => img.complete), null, { timeout: 60_000 })
  return page.evaluate(() => Array.from(document.images).every((img) => img.naturalWidth > 0))
}

export const galleryPaths = (s: DemoSite) => s.assetPaths().filter((p) => p.endsWith('.jpg'))
