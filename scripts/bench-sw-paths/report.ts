// Medians, ratios and the printed table of a bench:sw run.

import { percentile } from '../bench-net/report.ts'
import type { Measure, Pass } from './visits.ts'

export const MEASURES: Array<{ measure: Measure; label: string }> = [
  { measure: 'http-cold', label: 'plain HTTP, cold (no SW)' },
  { measure: 'workbox-cold', label: 'Workbox CacheFirst, cold' },
  { measure: 'workbox-warm', label: 'Workbox CacheFirst, warm' },
  { measure: 'swarmcdn-cold', label: 'swarmcdn, cold (no peers)' },
  { measure: 'swarmcdn-warm', label: 'swarmcdn, warm (all stored)' },
]

export const RATIOS: Array<{ name: string; of: Measure; over: Measure; target?: number }> = [
  { name: 'warm: swarmcdn / Workbox CacheFirst', of: 'swarmcdn-warm', over: 'workbox-warm', target: 1.2 },
  { name: 'cold: swarmcdn / plain HTTP', of: 'swarmcdn-cold', over: 'http-cold', target: 1.3 },
  { name: 'cold: Workbox CacheFirst / plain HTTP', of: 'workbox-cold', over: 'http-cold' },
]

/** One run: each measure's pass (a measure missing when its variant was not run or failed to run). */
export type RunSamples = Partial<Record<Measure, Pass>>

export interface MeasureSummary {
  measure: Measure
  /** Passes without problems. */
  counted: number
  failed: number
  medianMs: number | null
  minMs: number | null
  maxMs: number | null
  /** Median per asset path, ms. */
  perAssetMedianMs: Record<string, number>
  problems: string[]
}

export interface RatioSummary {
  name: string
  /** Ratio of the two medians. */
  ratio: number | null
  /** The ratio within each run (same run ⇒ same machine load), lowest and highest. */
  perRunMin: number | null
  perRunMax: number | null
  target?: number
}

const good = (pass: Pass | undefined): pass is Pass => !!pass && pass.problems.length === 0

export function summarizeMeasure(runs: RunSamples[], measure: Measure): MeasureSummary {
  const passes = runs.map((run) => run[measure]).filter((pass): pass is Pass => !!pass)
  const counted = passes.filter(good)
  const totals = counted.map((pass) => pass.totalMs)
  const perAssetMedianMs: Record<string, number> = {}
  for (const read of counted[0]?.reads ?? []) perAssetMedianMs[read.path] = percentile(counted.map((pass) => pass.reads.find((r) => r.path === read.path)!.ms), 50)!
  return {
    measure,
    counted: counted.length,
    failed: passes.length - counted.length,
    medianMs: percentile(totals, 50),
    minMs: totals.length ? Math.min(...totals) : null,
    maxMs: totals.length ? Math.max(...totals) : null,
    perAssetMedianMs,
    problems: [...new Set(passes.flatMap((pass) => pass.problems))],
  }
}

export function summarizeRatios(runs: RunSamples[], summaries: MeasureSummary[]): RatioSummary[] {
  const median = (measure: Measure) => summaries.find((s) => s.measure === measure)?.medianMs ?? null
  return RATIOS.map(({ name, of, over, target }) => {
    const top = median(of)
    const bottom = median(over)
    const perRun = runs.filter((run) => good(run[of]) && good(run[over])).map((run) => run[of]!.totalMs / run[over]!.totalMs)
    return {
      name,
      ratio: top !== null && bottom !== null && bottom > 0 ? top / bottom : null,
      perRunMin: perRun.length ? Math.min(...perRun) : null,
      perRunMax: perRun.length ? Math.max(...perRun) : null,
      target,
    }
  })
}

export function formatTable(summaries: MeasureSummary[], ratios: RatioSummary[], pageBytes: number): string {
  const ms = (value: number | null) => (value === null ? '–' : `${Math.round(value).toLocaleString('en-US')} ms`)
  const rate = (value: number | null) => (value === null || value <= 0 ? '–' : `${Math.round(pageBytes / 1e6 / (value / 1000))} MB/s`)
  const header = ['path', 'median', 'min – max', 'rate', 'runs']
  const rows = summaries.map((s) => {
    const label = MEASURES.find((m) => m.measure === s.measure)!.label
    return [label, ms(s.medianMs), s.minMs === null ? '–' : `${Math.round(s.minMs)} – ${Math.round(s.maxMs!)}`, rate(s.medianMs), s.failed ? `${s.counted} (${s.failed} FAILED)` : String(s.counted)]
  })
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c].length)))
  const format = (row: string[]) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('   ').trimEnd()
  const lines = [format(header), widths.map((w) => '-'.repeat(w)).join('   '), ...rows.map(format), '']
  const nameWidth = Math.max(...ratios.map((r) => r.name.length))
  for (const r of ratios) {
    const value = r.ratio === null ? '–' : `${r.ratio.toFixed(2)}×`
    const spread = r.perRunMin === null ? '' : ` (per run ${r.perRunMin.toFixed(2)}–${r.perRunMax!.toFixed(2)}×)`
    const target = r.target === undefined || r.ratio === null ? '' : `   target ≤ ${r.target}× ${r.ratio <= r.target ? 'met' : 'NOT met'}`
    lines.push(`${r.name.padEnd(nameWidth)}   ${value}${spread}${target}`)
  }
  const problems = summaries.flatMap((s) => s.problems.map((p) => `${s.measure}: ${p}`))
  if (problems.length) lines.push('', 'passes that did not count:', ...problems.map((p) => `  ${p}`))
  return lines.join('\n')
}
