import { launchChromium } from './helpers/browser.ts'
import { startDemoSite, waitForController, swStats } from './helpers/demo-site.ts'
const deadline = Number(process.env.DEADLINE ?? 2000)
const s = await startDemoSite({ seed: false, swConfig: { pieceDeadlineMs: deadline } })
const browser = await launchChromium()
const t0 = Date.now()
const log = (who: string, m: string) => console.log(`${((Date.now() - t0) / 1000).toFixed(2)} ${who} ${m}`)
async function visitor(name: string) {
  const ctx = await browser.newContext()
  ctx.on('console', (m) => log(name, 'console ' + m.text().slice(0, 200)))
  const page = await ctx.newPage()
  page.on('console', (m) => log(name, 'page ' + m.text().slice(0, 200)))
  page.on('response', (r) => { if (r.url().includes('/media/')) log(name, `resp ${r.status()} ${r.url().split('/').pop()} sw=${r.fromServiceWorker()}`) })
  page.on('requestfinished', (r) => { if (r.url().includes('/media/')) log(name, `done ${r.url().split('/').pop()}`) })
  page.on('requestfailed', (r) => { if (r.url().includes('/media/')) log(name, `FAILED ${r.url().split('/').pop()} ${r.failure()?.errorText}`) })
  await page.goto(`${s.origin}/`)
  await waitForController(page)
  log(name, 'ready ' + JSON.stringify(await page.evaluate(() => window.swarmcdn!.ready)))
  await page.goto(`${s.origin}/gallery.html`, { timeout: 60000 })
  log(name, 'gallery loaded')
  await page.waitForFunction(() => Array.from(document.images).every((img) => img.complete && img.naturalWidth > 0), null, { timeout: 60_000 })
  log(name, 'images ok ' + JSON.stringify((await swStats(page)).stats.totals.bytes) + ' agent ' + JSON.stringify(await page.evaluate(() => window.swarmcdn!.stats())))
  return page
}
const a = await visitor('A')
await new Promise((r) => setTimeout(r, 2000))
log('A', 'after wait ' + JSON.stringify(await a.evaluate(() => window.swarmcdn!.stats())))
await visitor('B')
await browser.close(); await s.close()
