// `npm run build`: bundle the service worker, the loader and the peer agent into dist/, with size budgets.

import { bundleClients } from '../origin-tools/src/client-bundles.ts'

const quiet = process.argv.includes('--quiet')
try {
  const reports = await bundleClients()
  if (!quiet) {
    for (const r of reports) {
      console.log(`dist/${r.file.padEnd(20)} ${(r.bytes / 1024).toFixed(1).padStart(7)} KiB  (budget ${(r.budgetBytes / 1024).toFixed(0)} KiB)`)
    }
  }
} catch (error) {
  console.error(`build failed: ${(error as Error).message}`)
  process.exitCode = 1
}
