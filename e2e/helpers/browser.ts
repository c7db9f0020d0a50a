// Chromium from Debian's packages, driven by playwright-core (which never downloads a browser).

import { chromium, type Browser } from 'playwright-core'
import { existsSync } from 'node:fs'

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
export const hasChromium = existsSync(CHROMIUM_PATH)
export const skipWithoutChromium = hasChromium ? false : `Chromium not found at ${CHROMIUM_PATH} (apt-get install chromium; .ci/run does)`

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // Plain local IPs in ICE candidates: mDNS names can fail to resolve in containers.
      '--disable-features=WebRtcHideLocalIpsWithMdns',
      // Let a video play without a user gesture.
      '--autoplay-policy=no-user-gesture-required',
    ],
  })
}
