// Temporary folders for tests. Each test file runs in its own process (`node --test`), so folders made
// here are removed when that process exits: a full run leaves nothing behind in the system temp folder
// (the e2e sites reach a gigabyte each, and a CI machine once ran out of disk on leftovers).

import { mkdtempSync, rmSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const made = new Set<string>()
let exitHookInstalled = false

/** A new empty folder under the system temp folder, removed at the latest when this process exits. */
export async function tempDir(prefix = 'swarmcdn-test-'): Promise<string> {
  if (!exitHookInstalled) {
    exitHookInstalled = true
    process.once('exit', () => {
      for (const dir of made) rmSync(dir, { recursive: true, force: true })
    })
  }
  const dir = mkdtempSync(join(tmpdir(), prefix))
  made.add(dir)
  return dir
}

/** Removes a folder made by tempDir now, rather than at exit. */
export async function removeTempDir(dir: string): Promise<void> {
  made.delete(dir)
  await rm(dir, { recursive: true, force: true })
}
