// Diagnostics: what the service worker did with each request and when — a request arriving, a batch
// planned (held while the page's agent connects, or not), the hold released, a run waiting for an
// HTTP slot, a run on the wire and its end. `npm run bench:net` prints it as a timeline; only the
// latest entries are kept.

/** [time (Date.now()), event, asset path, first piece, last piece] (-1 where none). */
export type TraceEntry = [atMs: number, event: string, path: string, first: number, last: number]

export interface SchedulerTrace {
  add(event: string, path: string, first?: number, last?: number): void
  entries(): TraceEntry[]
}

export function createSchedulerTrace(maxEntries = 2000, now: () => number = Date.now): SchedulerTrace {
  const entries: TraceEntry[] = []
  return {
    add(event, path, first = -1, last = -1) {
      entries.push([now(), event, path, first, last])
      if (entries.length > maxEntries) entries.shift()
    },
    entries: () => entries.slice(),
  }
}
