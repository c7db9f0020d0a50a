// Write-then-rename, so a reader (or a crash) never sees a half-written file.

import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { dirname, join, basename } from 'node:path'
import { randomBytes } from 'node:crypto'
import { CliError } from './cli-error.ts'

export async function writeFileAtomic(path: string, data: string | Uint8Array, mode?: number): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  try {
    await mkdir(dirname(path), { recursive: true })
    await writeFile(temp, data, { mode, flag: 'wx' })
    await rename(temp, path)
  } catch (error) {
    await rm(temp, { force: true }).catch(() => {})
    throw new CliError('output-unwritable', `cannot write ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message} (check the folder exists and is writable)`)
  }
}
