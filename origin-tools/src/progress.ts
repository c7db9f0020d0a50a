// A byte progress bar on the terminal (stderr); silent when not a terminal or when output is JSON.

import cliProgress from 'cli-progress'

export interface ByteProgress {
  add(bytes: number): void
  stop(): void
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`
}

export function createByteProgress(label: string, totalBytes: number, enabled: boolean): ByteProgress {
  if (!enabled || !process.stderr.isTTY || totalBytes === 0) return { add() {}, stop() {} }
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% | {done} of {total_h} | {speed} | ETA {eta_formatted}`,
      hideCursor: true,
      clearOnComplete: true,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  )
  const startedAt = Date.now()
  let done = 0
  const payload = () => {
    const seconds = Math.max((Date.now() - startedAt) / 1000, 0.001)
    return { done: formatBytes(done), total_h: formatBytes(totalBytes), speed: `${(done / 1e6 / seconds).toFixed(0)} MB/s` }
  }
  bar.start(totalBytes, 0, payload())
  return {
    add(bytes) {
      done += bytes
      bar.update(done, payload())
    },
    stop() {
      bar.stop()
    },
  }
}
