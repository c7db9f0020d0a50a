// The signing key must never be published: refuse a key that lies inside the site folder, or that a
// file of the site links to.

import { realpath } from 'node:fs/promises'
import { relative, isAbsolute } from 'node:path'
import { CliError } from './cli-error.ts'
import type { SiteFile } from './site-walk.ts'

export async function assertKeyOutsideSite(keyFile: string, siteDir: string, files: readonly SiteFile[]): Promise<void> {
  const key = await realpath(keyFile)
  const site = await realpath(siteDir)
  const rel = relative(site, key)
  const inside = rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))
  const linked = inside ? undefined : await firstLinkTo(key, files)
  if (inside || linked) {
    throw new CliError(
      'key-inside-site',
      `the signing key ${keyFile} is ${inside ? 'inside the site folder' : `linked from the site as ${linked}`}, where it would be published: move it out of ${siteDir} (and make a new key if it was ever deployed)`,
    )
  }
}

async function firstLinkTo(key: string, files: readonly SiteFile[]): Promise<string | undefined> {
  for (const file of files) if ((await realpath(file.file).catch(() => '')) === key) return file.relativePath
  return undefined
}
