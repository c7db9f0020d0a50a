// The demo's pages: one layout (head with the one-line include, navigation, footer) around each page's
// own content in demo/pages/. One list of pages feeds both the files and the navigation.

import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

export const DEMO_PAGES = [
  { file: 'index.html', title: 'Home', href: '/' },
  { file: 'gallery.html', title: 'Gallery', href: '/gallery.html' },
  { file: 'film.html', title: 'Film', href: '/film.html' },
  { file: 'download.html', title: 'Download', href: '/download.html' },
  { file: 'owner.html', title: 'Owner dashboard', href: '/owner.html' },
] as const

function layout(title: string, nav: string, main: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Lumen Outdoor</title>
<link rel="stylesheet" href="/assets/style.css">
<script src="/swarmcdn.js" async></script>
<script src="/assets/swarm-panel.js" defer></script>
</head>
<body>
<header class="site"><div class="bar">
  <a class="logo" href="/">Lumen<span>Outdoor</span></a>
  <nav>
${nav}
  </nav>
</div></header>
<main>
${main}</main>
<footer class="site">Lumen Outdoor is a demo site for swarmcdn. Its large files reach you from other visitors when they can.</footer>
</body>
</html>
`
}

/** Writes every page of DEMO_PAGES into siteDir, from the fragments in pagesDir. */
export async function renderDemoPages(pagesDir: string, siteDir: string): Promise<void> {
  for (const page of DEMO_PAGES) {
    const nav = DEMO_PAGES.map((link) => `    <a href="${link.href}"${link.file === page.file ? ' aria-current="page"' : ''}>${link.title}</a>`).join('\n')
    const main = await readFile(join(pagesDir, page.file), 'utf8')
    await writeFile(join(siteDir, page.file), layout(page.title, nav, main))
  }
}
