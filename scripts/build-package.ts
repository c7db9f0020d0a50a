// `npm run build:package` (and `npm pack`'s prepack): everything the published package runs, in dist/.
//   dist/*.js          browser bundles (service worker, loader, agent), prebuilt with their size budgets
//   dist/node/*.js     the CLI, the API, the Vite plugin and the forked children: ESM for Node, every
//                      pure-JS dependency bundled in; only package.json `dependencies` (native code such
//                      as @roamhq/wrtc) and optional peers stay imports, so the user's `npm install`
//                      fetches those alone and runs no install script of anyone else's
//   dist/node/*.d.ts   types of the API and the Vite plugin
// No TypeScript compiler, tsx or esbuild is needed where the package is installed.

import { build } from 'esbuild'
import { chmod, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import ts from 'typescript'
import { bundleClients, DIST_DIR } from '../origin-tools/src/client-bundles.ts'
import { CHILD_ENTRIES, REPO_ROOT } from '../origin-tools/src/package-layout.ts'

const NODE_DIR = join(REPO_ROOT, 'dist/node')

/** Public entry points: output name → source. The names are the package's exports (package.json). */
const PUBLIC_ENTRIES = {
  cli: 'origin-tools/src/cli.ts',
  index: 'origin-tools/src/api.ts',
  vite: 'origin-tools/src/vite-plugin.ts',
} as const

/** Declarations shipped: output name → source of the entry whose .d.ts it is. */
const TYPED_ENTRIES = { index: PUBLIC_ENTRIES.index, vite: PUBLIC_ENTRIES.vite } as const

const quiet = process.argv.includes('--quiet')
const log = (line: string) => quiet || console.log(line)

async function buildNode(): Promise<void> {
  const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>
    peerDependencies?: Record<string, string>
  }
  const external = [
    // Installed at the user's: native code, loaded only by what needs it.
    ...Object.keys(pkg.dependencies ?? {}),
    ...Object.keys(pkg.peerDependencies ?? {}),
    // Optional native speed-ups that ws loads inside try/catch; without them it uses plain JS.
    'bufferutil',
    'utf-8-validate',
    // Only the repository rebuilds the browser bundles (client-bundles.ts loads it lazily).
    'esbuild',
  ]
  await rm(NODE_DIR, { recursive: true, force: true })
  const entryPoints = Object.fromEntries(
    [...Object.entries(PUBLIC_ENTRIES), ...Object.entries(CHILD_ENTRIES)].map(([name, source]) => [name, join(REPO_ROOT, source)]),
  )
  const result = await build({
    entryPoints,
    outdir: NODE_DIR,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    chunkNames: 'chunk-[hash]',
    external,
    define: { SWARMCDN_PACKAGE: 'true' },
    // Bundled CommonJS dependencies call require() for Node built-ins.
    banner: { js: "import { createRequire as __swarmcdnCreateRequire } from 'node:module';\nconst require = __swarmcdnCreateRequire(import.meta.url);" },
    minifySyntax: true,
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
  })
  const cli = join(NODE_DIR, 'cli.js')
  await writeFile(cli, `#!/usr/bin/env node\n${await readFile(cli, 'utf8')}`)
  await chmod(cli, 0o755)
  for (const [file, output] of Object.entries(result.metafile.outputs)) {
    log(`${file.padEnd(28)} ${(output.bytes / 1024).toFixed(1).padStart(8)} KiB${output.entryPoint ? '' : '  (shared)'}`)
  }
}

/** Emits .d.ts for the typed entries with the TypeScript API; each must stand alone (no relative imports left). */
async function buildTypes(): Promise<void> {
  const outDir = join(tmpdir(), `swarmcdn-dts-${process.pid}`)
  // types/ declares the untyped dependencies the sources import.
  const ambient = (await readdir(join(REPO_ROOT, 'types'))).filter((name) => name.endsWith('.d.ts')).map((name) => join(REPO_ROOT, 'types', name))
  const sources = [...ambient, ...Object.values(TYPED_ENTRIES).map((source) => join(REPO_ROOT, source))]
  const program = ts.createProgram(sources, {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts', 'lib.webworker.d.ts'],
    types: ['node'],
    strict: true,
    skipLibCheck: true,
    allowImportingTsExtensions: true,
    declaration: true,
    emitDeclarationOnly: true,
    rootDir: REPO_ROOT,
    outDir,
  })
  // Removed on failure too: declarations of a failed build must not linger in the temp folder.
  try {
    const emitted = program.emit()
    const problems = ts.getPreEmitDiagnostics(program).concat(emitted.diagnostics)
    if (problems.length > 0) {
      throw new Error(ts.formatDiagnostics(problems, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => REPO_ROOT, getNewLine: () => '\n' }))
    }
    // Declarations import each other by source name; in the package they are index.d.ts and vite.d.ts.
    const renames = new Map(Object.entries(TYPED_ENTRIES).map(([name, source]) => [source.split('/').pop()!, `./${name}.js`]))
    for (const [name, source] of Object.entries(TYPED_ENTRIES)) {
      let text = await readFile(join(outDir, source.replace(/\.ts$/, '.d.ts')), 'utf8')
      text = text.replace(/from '\.\/([^']+)'/g, (whole, file: string) => (renames.has(file) ? `from '${renames.get(file)}'` : whole))
      const stray = [...text.matchAll(/from '(\.[^']*)'/g)].map((m) => m[1]).find((path) => ![...renames.values()].includes(path))
      if (stray) throw new Error(`${source}'s declarations import ${stray}: declare its public types in the entry itself`)
      await writeFile(join(NODE_DIR, `${name}.d.ts`), text)
    }
  } finally {
    await rm(outDir, { recursive: true, force: true })
  }
}

/** The browser bundles, built aside and renamed into dist/: tests running meanwhile never read half a file. */
async function buildClients(): Promise<void> {
  const aside = await mkdtemp(join(DIST_DIR, '.building-'))
  try {
    for (const r of await bundleClients({ outDir: aside })) {
      await rename(join(aside, r.file), join(DIST_DIR, r.file))
      log(`dist/${r.file.padEnd(23)} ${(r.bytes / 1024).toFixed(1).padStart(8)} KiB  (budget ${(r.budgetBytes / 1024).toFixed(0)} KiB)`)
    }
  } finally {
    await rm(aside, { recursive: true, force: true })
  }
}

try {
  await mkdir(DIST_DIR, { recursive: true })
  await buildClients()
  await mkdir(NODE_DIR, { recursive: true })
  await buildNode()
  await buildTypes()
} catch (error) {
  console.error(`build:package failed: ${(error as Error).message}`)
  process.exitCode = 1
}
