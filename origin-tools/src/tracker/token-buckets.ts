// Token buckets by key (a client address, a connection): a page joining many swarms at once is fine,
// a flood is not.

export interface RateLimiterConfig {
  /** Tokens a key may spend in a burst. */
  burst: number
  /** Tokens refilled per second per key. */
  perSec: number
  now?: () => number
  /** Buckets kept before full ones are forgotten (memory bound). Default 10 000. */
  maxKeys?: number
}

export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; updatedMs: number }>()
  private readonly now: () => number

  constructor(private readonly config: RateLimiterConfig) {
    this.now = config.now ?? Date.now
  }

  /** Tokens `key` has now (at most `burst`). */
  available(key: string): number {
    const bucket = this.refill(key)
    return bucket.tokens
  }

  /** True when `key` may spend `cost` tokens now (and spends them). */
  allow(key: string, cost = 1): boolean {
    const bucket = this.refill(key)
    if (bucket.tokens < cost) return false
    bucket.tokens -= cost
    return true
  }

  /** Spends up to `wanted` whole tokens; returns how many were spent. */
  take(key: string, wanted: number): number {
    const bucket = this.refill(key)
    const granted = Math.max(0, Math.min(wanted, Math.floor(bucket.tokens)))
    bucket.tokens -= granted
    return granted
  }

  forget(key: string): void {
    this.buckets.delete(key)
  }

  get size(): number {
    return this.buckets.size
  }

  private refill(key: string): { tokens: number; updatedMs: number } {
    const nowMs = this.now()
    const bucket = this.buckets.get(key) ?? { tokens: this.config.burst, updatedMs: nowMs }
    bucket.tokens = Math.min(this.config.burst, bucket.tokens + (Math.max(0, nowMs - bucket.updatedMs) / 1000) * this.config.perSec)
    bucket.updatedMs = nowMs
    this.buckets.set(key, bucket)
    if (this.buckets.size > (this.config.maxKeys ?? 10_000)) this.forgetFull(nowMs)
    return bucket
  }

  /** Drops buckets that have refilled, then the oldest, so memory stays bounded. */
  private forgetFull(nowMs: number): void {
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + ((nowMs - bucket.updatedMs) / 1000) * this.config.perSec >= this.config.burst) this.buckets.delete(key)
    }
    const limit = this.config.maxKeys ?? 10_000
    for (const key of this.buckets.keys()) {
      if (this.buckets.size <= limit * 0.9) break
      this.buckets.delete(key)
    }
  }
}
