// Starts the real CLI as a long-running child process and waits for a line that says it is ready.

import { spawn, type ChildProcess } from 'node:child_process'
import { CLI, REPO_ROOT } from '../../test/helpers/cli.ts'

export interface RunningProcess {
  child: ChildProcess
  output: () => string
  stop: () => Promise<number | null>
}

export function startCli(args: string[], readyPattern: RegExp, timeoutMs = 30_000): Promise<RunningProcess & { match: RegExpMatchArray }> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const stop = () =>
    new Promise<number | null>((resolve) => {
      if (child.exitCode !== null) return resolve(child.exitCode)
      child.once('exit', (code) => resolve(code))
      child.kill('SIGTERM')
    })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`timed out waiting for ${readyPattern} from swarmcdn ${args.join(' ')}; output:\n${output}`))
    }, timeoutMs)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const match = output.match(readyPattern)
      if (match) {
        clearTimeout(timer)
        resolve({ child, output: () => output, stop, match })
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`swarmcdn ${args.join(' ')} exited ${code} before ready:\n${output}`))
    })
  })
}
