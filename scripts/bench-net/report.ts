// Summaries and the printed table of a benchmark run.

import type { ScenarioResult } from './scenarios.ts'

/** Percentile by linear interpolation between closest ranks (p in 0..100); null for no values. */
export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  const rank = (p / 100) * (sorted.length - 1)
  const low = Math.floor(rank)
  const high = Math.ceil(rank)
  return sorted[low] + (sorted[high] - sorted[low]) * (rank - low)
}

export interface ScenarioSummary {
  loaded: number
  failed: number
  medianLoadMs: number | null
  p90LoadMs: number | null
  medianOffload: number | null
  originCopies: number
}

export function summarize(result: ScenarioResult): ScenarioSummary {
  const loads = result.visitors.flatMap((v) => (v.loadMs === null ? [] : [v.loadMs]))
  return {
    loaded: loads.length,
    failed: result.visitors.length - loads.length,
    medianLoadMs: percentile(loads, 50),
    p90LoadMs: percentile(loads, 90),
    medianOffload: percentile(result.visitors.map((v) => v.offload), 50),
    originCopies: result.originCopies,
  }
}

const seconds = (ms: number | null) => (ms === null ? 'failed' : `${(ms / 1000).toFixed(2)} s`)
const percent = (x: number | null) => (x === null ? "–" : `${Math.round(x * 100) || 0}%`)

/** One table per origin profile: rows of metrics, a column per variant. */
export function formatTable(results: ScenarioResult[], pageBytes: number): string {
  const lines: string[] = []
  const profiles = [...new Set(results.map((r) => r.originMbit))]
  for (const mbit of profiles) {
    const rows: string[][] = []
    for (const scenario of ['sequential', 'crowd'] as const) {
      const http = results.find((r) => r.originMbit === mbit && r.scenario === scenario && r.variant === 'http')
      const swarm = results.find((r) => r.originMbit === mbit && r.scenario === scenario && r.variant === 'swarmcdn')
      const any = http ?? swarm
      if (!any) continue
      const cell = (r: ScenarioResult | undefined, f: (r: ScenarioResult) => string) => (r ? f(r) : '–')
      const label = scenario === 'sequential' ? `sequential (${any.visitors.length})` : `crowd (${any.visitors.length})`
      if (scenario === 'sequential') {
        for (let i = 0; i < any.visitors.length; i++) {
          const v = (r: ScenarioResult | undefined) => r?.visitors[i]
          rows.push([i === 0 ? label : '', `visitor ${i + 1}: load · offload`,
            cell(http, (r) => `${seconds(v(r)!.loadMs)} · ${percent(v(r)!.offload)}`),
            cell(swarm, (r) => `${seconds(v(r)!.loadMs)} · ${percent(v(r)!.offload)}`)])
        }
      }
      rows.push([scenario === 'sequential' ? '' : label, 'load median · p90',
        cell(http, (r) => `${seconds(summarize(r).medianLoadMs)} · ${seconds(summarize(r).p90LoadMs)}`),
        cell(swarm, (r) => `${seconds(summarize(r).medianLoadMs)} · ${seconds(summarize(r).p90LoadMs)}`)])
      rows.push(['', 'offload median', cell(http, (r) => percent(summarize(r).medianOffload)), cell(swarm, (r) => percent(summarize(r).medianOffload))])
      rows.push(['', 'origin, copies of the page', cell(http, (r) => r.originCopies.toFixed(2)), cell(swarm, (r) => r.originCopies.toFixed(2))])
      const failures = (r: ScenarioResult | undefined) => (r ? String(summarize(r).failed) : '–')
      if ((http && summarize(http).failed) || (swarm && summarize(swarm).failed)) rows.push(['', 'failed loads', failures(http), failures(swarm)])
    }
    const header = ['', `origin ${mbit} Mbit/s`, 'plain HTTP', 'swarmcdn']
    const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c].length)))
    const format = (row: string[]) => row.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd()
    lines.push(format(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(format), '')
  }
  lines.push(`page = ${(pageBytes / 1e6).toFixed(1)} MB; load = every image decoded, the download read whole, the video fully buffered or played through`)
  return lines.join('\n')
}
