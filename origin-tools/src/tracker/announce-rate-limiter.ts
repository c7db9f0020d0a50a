// Token bucket per client address: a page joining many swarms at once is fine, a flood is not.

export interface RateLimiterConfig {
  /** Announces a client address may send in a burst. */
  burstAnnounces: number
  /** Sustained announces per second per address. */
  announcesPerSec: number
  now?: () => number
}

export class AnnounceRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; updatedMs: number }>()
  private readonly now: () => number

  constructor(private readonly config: RateLimiterConfig) {
    this.now = config.now ?? Date.now
  }

  /** True when the address may announce now (and spends a token). */
  allow(address: string): boolean {
    const nowMs = this.now()
    const bucket = this.buckets.get(address) ?? { tokens: this.config.burstAnnounces, updatedMs: nowMs }
    bucket.tokens = Math.min(this.config.burstAnnounces, bucket.tokens + ((nowMs - bucket.updatedMs) / 1000) * this.config.announcesPerSec)
    bucket.updatedMs = nowMs
    this.buckets.set(address, bucket)
    if (this.buckets.size > 10_000) this.forgetFull(nowMs)
    if (bucket.tokens < 1) return false
    bucket.tokens -= 1
    return true
  }

  /** Drops buckets that have refilled, so memory stays bounded. */
  private forgetFull(nowMs: number): void {
    for (const [address, bucket] of this.buckets) {
      if (bucket.tokens + ((nowMs - bucket.updatedMs) / 1000) * this.config.announcesPerSec >= this.config.burstAnnounces) this.buckets.delete(address)
    }
  }
}
