// Where the running code finds its files. In the repository it is TypeScript run by tsx; in the
// published package it is JavaScript bundled into dist/node/ by scripts/build-package.ts, which
// defines SWARMCDN_PACKAGE. Only this file knows the difference.

import { fileURLToPath } from 'node:url'
import { join } from 'node:path'

declare const SWARMCDN_PACKAGE: boolean | undefined

/** True in the published package (bundled JavaScript, browser files prebuilt), false in the repository. */
export const PACKAGED = typeof SWARMCDN_PACKAGE !== 'undefined' && SWARMCDN_PACKAGE === true

/** The repository root (meaningless in the package). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))

/**
 * The folder holding the browser bundles (swarmcdn-sw.js, swarmcdn.js, swarmcdn-agent.js): the
 * repository's dist/, or in the package the folder above dist/node/ where this code was bundled.
 */
export const CLIENT_DIST_DIR = PACKAGED ? fileURLToPath(new URL('../', import.meta.url)) : join(REPO_ROOT, 'dist')

/** Scripts run as child processes (forked), by name: their TypeScript source in the repository. */
export const CHILD_ENTRIES = {
  'seeder-child': 'origin-tools/src/seeder/seeder-child.ts',
} as const

export type ChildEntryName = keyof typeof CHILD_ENTRIES

/** How to fork a child script: the bundled dist/node/<name>.js in the package, the .ts through tsx in the repository. */
export function childEntry(name: ChildEntryName): { script: string; execArgv: string[] } {
  if (PACKAGED) return { script: fileURLToPath(new URL(`./${name}.js`, import.meta.url)), execArgv: [] }
  // tsx by absolute URL, so it resolves from any working directory.
  return { script: join(REPO_ROOT, CHILD_ENTRIES[name]), execArgv: ['--import', import.meta.resolve('tsx')] }
}
