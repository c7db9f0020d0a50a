// `npm start`: everything a fresh clone needs to show swarmcdn working, then `swarmcdn serve`.
// Plain JavaScript with no dependencies, because it may run before `npm install`.
//   npm start -- [--port 8080] [--host 127.0.0.1] [--no-seed]

import { existsSync } from 'node:fs'
import { spawnSync, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const args = process.argv.slice(2)
if (args.includes('--help') || args.includes('-h')) {
  console.log('usage: npm start -- [--port 8080] [--host 127.0.0.1] [--no-seed] [--no-tracker]')
  console.log('Builds the demo site (media, key, manifest) and serves it with tracker and seeder.')
  process.exit(0)
}

function run(command, commandArgs) {
  const result = spawnSync(command, commandArgs, { cwd: root, stdio: 'inherit' })
  if (result.status !== 0) {
    console.error(`npm start: "${command} ${commandArgs.join(' ')}" failed`)
    process.exit(result.status ?? 1)
  }
}

if (!existsSync(`${root}/node_modules/.package-lock.json`)) {
  console.log('npm start: installing npm packages…')
  run('npm', ['ci', '--no-audit', '--no-fund'])
}

const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
if (!existsSync(chromium)) {
  // The demo's media are drawn and encoded by headless Chromium (WebCodecs); tests use it too.
  if (process.getuid?.() === 0) {
    console.log('npm start: installing Chromium from Debian\'s packages…')
    run('apt-get', ['update', '-qq'])
    run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium'])
  } else {
    console.error(`npm start: Chromium is needed at ${chromium} to make the demo media: sudo apt-get install chromium (or set CHROMIUM_PATH)`)
    process.exit(1)
  }
}

const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start-demo.ts', ...args], { cwd: root, stdio: 'inherit' })
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal))
child.on('exit', (code) => process.exit(code ?? 0))
