// Service worker tuning knobs. Each component takes only the fields it needs (Pick<SwConfig, …>).

import { MANIFEST_FILE } from '../core/manifest-format.ts'

export interface SwConfig {
  /** Signed manifest URL, resolved against the SW registration scope. Default `swarmcdn/manifest.json` (core MANIFEST_FILE). */
  manifestUrl: string
  /**
   * Minimum age before the manifest is fetched again. Default 5 min. The refresh is triggered lazily
   * by fetch events, never by a timer: timers would keep the SW alive for nothing.
   */
  manifestRefreshIntervalMs: number
  /**
   * A page load (navigation) checks the manifest with a conditional request (a 304 when nothing
   * changed) if the last check is older than this, so a deploy takes effect on the next page load;
   * the page's asset requests wait for that check (at most manifestWaitMs). Default 1000 ms.
   */
  manifestNavigationCheckMs: number
  /** How long an asset request may wait for the manifest (cold start or a check under way). Default 500 ms. */
  manifestWaitMs: number
  /**
   * A response of at most this many bytes whose first piece is in the store (a revisit) is verified
   * whole before it starts, so a deploy that changed the file falls back cleanly to the network
   * instead of breaking part-way. Other responses stream after their first piece. Default 4 MiB.
   */
  wholeResponseMaxBytes: number
  /**
   * A cold whole-file request (nothing stored, no peers) of an asset of at most this many bytes gets
   * the origin's own response, untouched (fast: no byte through the worker's JavaScript), and is
   * stored afterwards from the HTTP cache. Larger ones, and all when 0, stream through the worker,
   * with body stall timeouts and resume. Default 32 MiB (the most that is stored from the HTTP cache).
   */
  originUntouchedMaxBytes: number
  /** Time allowed until the response can start; then the request falls back to the network. Default 60 000 ms: the fallback fetches again what the SW is still fetching, so a busy but working origin (measured: a flash crowd on a congested link, 15 s doubled its bytes) must not trigger it. */
  responseStartTimeoutMs: number
  /** A streaming response whose next piece takes longer than this ends with an error rather than hanging. Default 120 000 ms: an error mid-stream breaks what the page shows (measured: 30 s broke an image in a congested flash crowd), so only a real stall may end it. */
  pieceStallTimeoutMs: number
  /** Bytes of pieces kept in IndexedDB before least-recently-used eviction. Default 512 MiB. */
  storeBudgetBytes: number
  /**
   * The latency budget. Peers are asked, by all responses together, for what they deliver in about
   * this time at their measured rate (the rest stays open to HTTP, which pulls from the other end); a
   * piece asked of peers that is later than this plus its expected time is fetched over HTTP too
   * (first verified copy wins). Pieces no connected peer holds never wait: HTTP at once. A page that
   * has just navigated also holds HTTP back at most this long while its agent connects. Default 500 ms:
   * on the emulated internet (40 ms to the origin, 20-60 ms between visitors) a new page's first peer
   * connects at 0.7-0.8 s, so the hold mostly runs out first, and peers join the page's windows as
   * they connect. Against 1000 ms, visitors 2-4 at a fast origin loaded in 4.9-6.9 s instead of
   * 5.4-7.8 s (plain HTTP 4.4-4.6 s) and a congested origin lost 1 point of offload
   * (docs/peer-protocol.md, "Why 500 ms").
   */
  peerBudgetMs: number
  /**
   * What peers may spend of the time they save. With the split that ends soonest (0), a window loads as
   * fast as both sources together allow; with 1, peers take everything they can deliver before HTTP
   * alone would have finished (the most offload at plain HTTP's speed). In between, the finish time
   * moves that far from the first towards the second. Either way the latency budget comes on top.
   */
  offloadBias: number
  /** Peer rate assumed before any was measured, bytes/s. Default 1 MB/s (8 Mbit/s, a home uplink). */
  peerAssumedBytesPerSec: number
  /**
   * Bytes fetched ahead of the reader of one response while the page has peers (or is finding them):
   * each window's split between peers and HTTP is decided with what was measured by then. Default
   * 8 MiB (at least one piece).
   */
  readAheadBytes: number
  /**
   * The same for a visitor alone (no peers, or P2P off): HTTP is the only source, and a larger window
   * keeps the link busy to the end, as the plain network would (measured on the emulated internet,
   * fast origin: a film's last 8 MiB window started only once the reader was half-way, and ran alone
   * at the end). Default 16 MiB. The memory a response may hold is about this plus what waits for the store.
   */
  readAheadAloneBytes: number
  /** Parallel HTTP Range requests to webseeds, across all responses. Default 6: what browsers open per HTTP/1.1 origin. */
  webseedConcurrency: number
  /**
   * Upper bound on the bytes asked in one Range request (at least one piece) by a visitor alone, whose
   * runs are otherwise a slot's part of what its window still needs (at least 1 MiB: the last
   * megabytes come over several connections). Default 16 MiB. A run of pieces peers could give is at
   * most 4 MiB, so HTTP's share is decided again as rates are measured.
   */
  webseedMaxRunBytes: number
  /**
   * The same bound when this visitor is in a swarm: small runs from random places, so visitors that
   * arrive together fetch different pieces from the origin and trade them. Default 256 KiB.
   */
  webseedCrowdRunBytes: number
  /** Retries per webseed URL after the first attempt, on network errors and 5xx. Default 3. */
  webseedRetries: number
  /** First retry delay; doubles each retry, with jitter in [50%, 100%]. Default 250 ms. */
  webseedRetryBaseMs: number
  /**
   * Time a webseed Range request may take until its response headers arrive; then it is aborted and
   * retried (a retriable failure: backoff, then the next mirror). Default 10 000 ms: a loaded origin
   * on a congested link answers within a few seconds, and the worst case of a dead origin (4 attempts,
   * about 42 s with backoff) still ends before responseStartTimeoutMs, so the fetcher's own error, not
   * the response timer, decides the fallback.
   */
  webseedResponseTimeoutMs: number
  /**
   * Time a webseed body may go without a single byte (the timer restarts with every chunk); then the
   * request is aborted and retried for the pieces not yet delivered. Default 10 000 ms: a slow but
   * working transfer sends something every round trip, even on a congested link; ten seconds of
   * silence is a dead or stuck connection that would otherwise hold a webseed slot for good.
   */
  webseedBodyStallMs: number
  /**
   * A piece store read slower than this counts as a miss (the piece is fetched instead); it never
   * fails the response. Default 2000 ms: an IndexedDB read takes milliseconds, so this only fires when
   * the database is blocked or the disk is stuck, and then a download is faster than waiting.
   */
  storeReadTimeoutMs: number
  /**
   * A piece store write slower than this counts as not stored (the piece is fetched again next time);
   * until it settles, the store is skipped (reads miss, writes are dropped), so nothing waits on it
   * and nothing piles up in memory behind it. Default 10 000 ms: a batch of writes takes tens of
   * milliseconds; only a blocked database takes this long.
   */
  storeWriteTimeoutMs: number
}

export const SW_CONFIG_DEFAULTS: Readonly<SwConfig> = Object.freeze({
  manifestUrl: MANIFEST_FILE,
  manifestRefreshIntervalMs: 5 * 60_000,
  manifestNavigationCheckMs: 1000,
  manifestWaitMs: 500,
  wholeResponseMaxBytes: 4 * 1024 * 1024,
  originUntouchedMaxBytes: 32 * 1024 * 1024,
  responseStartTimeoutMs: 60_000,
  pieceStallTimeoutMs: 120_000,
  storeBudgetBytes: 512 * 1024 * 1024,
  peerBudgetMs: 500,
  offloadBias: 1,
  peerAssumedBytesPerSec: 1_000_000,
  readAheadBytes: 8 * 1024 * 1024,
  readAheadAloneBytes: 16 * 1024 * 1024,
  webseedConcurrency: 6,
  webseedMaxRunBytes: 16 * 1024 * 1024,
  webseedCrowdRunBytes: 256 * 1024,
  webseedRetries: 3,
  webseedRetryBaseMs: 250,
  webseedResponseTimeoutMs: 10_000,
  webseedBodyStallMs: 10_000,
  storeReadTimeoutMs: 2000,
  storeWriteTimeoutMs: 10_000,
})

export function resolveSwConfig(overrides: Partial<SwConfig> = {}): SwConfig {
  return { ...SW_CONFIG_DEFAULTS, ...overrides }
}
