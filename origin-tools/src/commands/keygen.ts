// `swarmcdn keygen`: a new Ed25519 signing key, never overwriting one.

import { mkdir, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { generateKeyPair, publicKeyBase64 } from '../keys.ts'
import { CliError } from '../cli-error.ts'

export async function keygen(outFile: string): Promise<{ publicKey: string }> {
  const { privateKeyPem, publicKey } = generateKeyPair()
  try {
    await mkdir(dirname(outFile), { recursive: true, mode: 0o700 })
    // 'wx' fails if the file exists: a signing key is never replaced by accident.
    await writeFile(outFile, privateKeyPem, { mode: 0o600, flag: 'wx' })
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EEXIST') throw new CliError('key-exists', `${outFile} already exists; swarmcdn never overwrites a key (choose another --out or delete it first)`)
    throw new CliError('output-unwritable', `cannot write ${outFile}: ${code ?? (error as Error).message}`)
  }
  return { publicKey: publicKeyBase64(publicKey) }
}
