// `import { swarmcdn } from 'swarmcdn/vite'`: runs `swarmcdn build` over Vite's output once the
// bundle (and the public/ folder Vite copies) is written, and adds the one-line include to the pages.

import { isAbsolute, resolve } from 'node:path'
import type { Plugin, ResolvedConfig } from 'vite'
import { build, type BuildJson, type BuildOptions } from './api.ts'
import { LOADER_FILE } from '../../core/manifest-format.ts'

export interface SwarmcdnViteOptions extends Omit<BuildOptions, 'siteDir' | 'progress'> {
  /** Relative paths (keyFile) are resolved against Vite's `root`. */
  keyFile: string
  /**
   * Add `<script src="<base>swarmcdn.js" async>` to every HTML page Vite emits, unless a page already
   * has it. Default true. `<base>` is Vite's `base` when it is absolute, else `/`.
   */
  injectLoader?: boolean
  /** Told what the build returned (the object `swarmcdn build --json` prints). Default: one line in Vite's log. */
  onBuilt?: (result: BuildJson) => void
}

export function swarmcdn(options: SwarmcdnViteOptions): Plugin {
  let config: ResolvedConfig | undefined
  return {
    name: 'swarmcdn',
    apply: 'build',
    // After every other plugin has written its files.
    enforce: 'post',
    configResolved(resolved) {
      config = resolved
    },
    transformIndexHtml(html) {
      if (options.injectLoader === false || html.includes(LOADER_FILE)) return html
      const base = config && (config.base.startsWith('/') || /^https?:\/\//.test(config.base)) ? config.base : '/'
      return [{ tag: 'script', attrs: { src: `${base}${LOADER_FILE}`, async: true }, injectTo: 'head' }]
    },
    async writeBundle(outputOptions) {
      if (!config || config.build.ssr) return
      // Vite 6+ runs plugins per environment; only the browser's output is the site.
      const environment = (this as { environment?: { name?: string } }).environment
      if (environment?.name && environment.name !== 'client') return
      const outDir = outputOptions.dir ?? resolve(config.root, config.build.outDir)
      const { injectLoader: _inject, onBuilt, ...buildOptions } = options
      const result = await build({
        ...buildOptions,
        siteDir: outDir,
        keyFile: isAbsolute(options.keyFile) ? options.keyFile : resolve(config.root, options.keyFile),
      })
      if (onBuilt) onBuilt(result)
      else config.logger.info(`swarmcdn: signed manifest sequence ${result.sequence}, ${result.assets.length} P2P assets (${result.manifest})`)
    },
  }
}
