// Which file a request path names, and whether it really lies inside the site folder. `send` keeps
// `..` out but follows symlinks; a link inside the site must not expose the rest of the disk.

import { realpath } from 'node:fs/promises'
import { join, sep } from 'node:path'

export type SitePathVerdict = 'inside' | 'outside' | 'missing'

/** The path part of a request target, raw (percent-encoded). `//host/x` stays a path, never a host. */
export function requestPath(target: string | undefined): string {
  const raw = target ?? '/'
  if (raw.startsWith('/')) return raw.replace(/[?#].*$/s, '')
  try {
    return new URL(raw).pathname // absolute-form (a proxy request)
  } catch {
    return '/'
  }
}

/**
 * Resolves every symlink of the file (or the directory's index.html) that `urlPath` names and says
 * whether it lies inside `siteRealRoot` (itself a real path). 'missing' when nothing exists there:
 * `send` answers it (404). A directory without the slash is redirected by `send`, then checked again.
 */
export async function checkSitePath(siteRealRoot: string, urlPath: string, index = 'index.html'): Promise<SitePathVerdict> {
  let decoded: string
  try {
    decoded = decodeURIComponent(urlPath)
  } catch {
    return 'missing'
  }
  if (decoded.includes('\0')) return 'missing'
  const inside = (path: string) => path === siteRealRoot || path.startsWith(siteRealRoot.endsWith(sep) ? siteRealRoot : siteRealRoot + sep)
  const candidates = [join(siteRealRoot, decoded)]
  if (urlPath.endsWith('/')) candidates.push(join(siteRealRoot, decoded, index))
  for (const candidate of candidates) {
    let real: string
    try {
      real = await realpath(candidate)
    } catch {
      continue // missing: send answers 404
    }
    if (!inside(real)) return 'outside'
  }
  return 'inside'
}
