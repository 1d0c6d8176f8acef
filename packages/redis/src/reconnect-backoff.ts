/**
 * How long the Redis transport waits before each reconnect attempt: capped exponential backoff
 * with jitter. Attempt n waits a random time in [b/2, b], where b = min(cap, first × 2^(n−1)).
 * The jitter spreads the reconnects of many processes that lost Redis at the same moment (a
 * restart, a failover) instead of having them all arrive at once; the lower half bound keeps
 * any one process from retrying in a tight loop.
 *
 * @example
 * ```ts
 * const delay = reconnectDelay(3); // between 100 and 200 ms with the defaults
 * new Redis(url, { retryStrategy: (times) => reconnectDelay(times) });
 * ```
 * @module
 */

/** The bounds of the backoff. */
export interface ReconnectBackoff {
  /** The longest wait of the first attempt, ms. */
  readonly firstMs: number;
  /** No wait is longer than this, ms. */
  readonly capMs: number;
}

/** 50 ms, doubling up to 2 s: what ioredis's own default reaches (50 ms × attempt, at most 2 s), with jitter. */
export const defaultReconnectBackoff: ReconnectBackoff = Object.freeze({ firstMs: 50, capMs: 2000 });

/**
 * The wait before reconnect attempt `attempt` (1 for the first), ms: a random whole number in
 * [b/2, b] with b = min(capMs, firstMs × 2^(attempt−1)). `random` returns a number in [0, 1).
 */
export function reconnectDelay(
  attempt: number,
  backoff: ReconnectBackoff = defaultReconnectBackoff,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(attempt, 1) - 1, 30); // 2^30 × firstMs is past any cap
  const ceiling = Math.min(backoff.capMs, backoff.firstMs * 2 ** exponent);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
