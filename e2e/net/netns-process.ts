// A long-running process inside a network namespace (`ip netns exec` execs, so the child's pid is the
// program's own), with its output kept for error messages and an optional wait for a ready line.

import { spawn, type ChildProcess } from 'node:child_process'

export interface NetnsProcess {
  readonly name: string
  readonly child: ChildProcess
  output(): string
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>
}

export interface StartOptions {
  /** Resolve once the output matches; reject if it exits first or `timeoutMs` passes. */
  ready?: RegExp
  timeoutMs?: number
  env?: NodeJS.ProcessEnv
  cwd?: string
}

const OUTPUT_KEEP_CHARS = 64 * 1024

export async function startInNamespace(ns: string, name: string, command: string, args: string[], options: StartOptions = {}): Promise<NetnsProcess> {
  const child = spawn('ip', ['netns', 'exec', ns, command, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.env ?? process.env,
    cwd: options.cwd,
  })
  let output = ''
  const onData = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-OUTPUT_KEEP_CHARS)
  }
  child.stdout!.on('data', onData)
  child.stderr!.on('data', onData)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const handle: NetnsProcess = {
    name,
    child,
    output: () => output,
    async stop(graceMs = 3000) {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      await exited
      clearTimeout(timer)
    },
  }
  if (!options.ready) return handle
  const ready = options.ready
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`${name} not ready after ${options.timeoutMs ?? 30_000} ms; output:\n${output}`)), options.timeoutMs ?? 30_000)
    const check = () => {
      if (ready.test(output)) done()
    }
    const onExit = (code: number | null, signal: string | null) => fail(new Error(`${name} exited (${signal ?? code}) before it was ready; output:\n${output}`))
    const onError = (error: Error) => fail(error)
    function cleanup() {
      clearTimeout(timer)
      child.stdout!.off('data', check)
      child.stderr!.off('data', check)
      child.off('exit', onExit)
      child.off('error', onError)
    }
    function done() {
      cleanup()
      resolve()
    }
    function fail(error: Error) {
      cleanup()
      child.kill('SIGKILL')
      reject(error)
    }
    child.stdout!.on('data', check)
    child.stderr!.on('data', check)
    child.once('exit', onExit)
    child.once('error', onError)
    check()
  })
  return handle
}
