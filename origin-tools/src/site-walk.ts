// Lists a site's files as URL paths, following symlinks but refusing loops.

import { readdir, realpath, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { CliError, fsErrorToCliError } from './cli-error.ts'
import { LOADER_FILE, SERVICE_WORKER_FILE } from '../../core/manifest-format.ts'

export interface SiteFile {
  /** Absolute path on disk. */
  file: string
  /** Path inside the site, '/'-separated, not encoded (e.g. 'media/a b.jpg'). */
  relativePath: string
  size: number
}

/** Top-level names swarmcdn writes itself; they are never assets. */
const GENERATED_ROOT_ENTRIES = new Set(['swarmcdn', LOADER_FILE, SERVICE_WORKER_FILE, 'swarmcdn-agent.js'])

export async function assertSiteDirectory(siteDir: string): Promise<void> {
  let info
  try {
    info = await stat(siteDir)
  } catch (error) {
    throw fsErrorToCliError(error, siteDir, 'site folder')
  }
  if (!info.isDirectory()) throw new CliError('site-not-directory', `site must be a folder, but ${siteDir} is a file`)
}

export async function walkSite(siteDir: string): Promise<SiteFile[]> {
  await assertSiteDirectory(siteDir)
  const files: SiteFile[] = []
  const rootReal = await realpath(siteDir)
  await walkDirectory(siteDir, '', [rootReal], files)
  files.sort((a, b) => (a.relativePath < b.relativePath ? -1 : a.relativePath > b.relativePath ? 1 : 0))
  return files
}

async function walkDirectory(dir: string, prefix: string, ancestors: string[], out: SiteFile[]): Promise<void> {
  let entries
  try {
    entries = await readdir(dir, { withFileTypes: true })
  } catch (error) {
    throw fsErrorToCliError(error, dir, 'folder')
  }
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue // dotfiles: .git, .well-known, editor droppings
    if (prefix === '' && GENERATED_ROOT_ENTRIES.has(entry.name)) continue
    const file = join(dir, entry.name)
    const relativePath = prefix + entry.name
    let info
    try {
      info = await stat(file) // follows symlinks
    } catch (error) {
      throw fsErrorToCliError(error, file, 'file')
    }
    if (info.isDirectory()) {
      const real = await realpath(file).catch((error) => {
        throw fsErrorToCliError(error, file, 'folder')
      })
      if (ancestors.includes(real)) throw new CliError('symlink-loop', `symlink loop at ${file} (it leads back to ${real}): remove or fix the link`)
      await walkDirectory(file, relativePath + '/', [...ancestors, real], out)
    } else if (info.isFile()) {
      out.push({ file, relativePath, size: info.size })
    }
  }
}

/** URL path of a site file under a scope ('/' or '/blog/'): each segment percent-encoded. */
export function urlPathFor(scope: string, relativePath: string): string {
  return scope + relativePath.split('/').map(encodeURIComponent).join('/')
}
