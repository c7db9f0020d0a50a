// Runs cleanup once on SIGINT/SIGTERM, then exits 0.

export function onShutdown(cleanup: () => Promise<void>, log: (line: string) => void): void {
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) process.exit(1) // a second Ctrl-C: give up waiting
    stopping = true
    log(`\n${signal}: shutting down`)
    const force = setTimeout(() => process.exit(0), 5000)
    force.unref()
    cleanup().finally(() => process.exit(0))
  }
  process.once('SIGINT', () => stop('SIGINT'))
  process.once('SIGTERM', () => stop('SIGTERM'))
}
