/**
 * A token bucket that spaces handler starts to at most `perSecond` on average, with bursts of up
 * to `burst`. Waiting goes through the clock.
 *
 * @example
 * ```ts
 * const limiter = new RateLimiter({ perSecond: 100, burst: 10 }, systemClock);
 * await limiter.take();
 * ```
 * @module
 */
import { sleep, type Clock } from '../clock.js';
import { ConfigurationError } from '../errors.js';
import { checkKnownKeys } from '../known-keys.js';

/** Rate limit settings of an endpoint. */
export interface RateLimitOptions {
  /** Handler starts per second, on average. */
  readonly perSecond: number;
  /** Starts allowed at once after a quiet spell. Default 1. */
  readonly burst?: number;
}

/** The bucket. */
export class RateLimiter {
  private tokens: number;
  private last: number;
  private readonly burst: number;
  private readonly perMs: number;
  private tail: Promise<void> = Promise.resolve();

  constructor(
    options: RateLimitOptions,
    private readonly clock: Clock,
  ) {
    checkKnownKeys('rateLimit', options, { perSecond: true, burst: true });
    if (!(options.perSecond > 0)) throw new ConfigurationError(`rateLimit.perSecond must be > 0, got ${options.perSecond}`);
    this.burst = options.burst ?? 1;
    if (!Number.isInteger(this.burst) || this.burst < 1)
      throw new ConfigurationError(`rateLimit.burst must be a whole number ≥ 1, got ${options.burst}`);
    this.perMs = options.perSecond / 1000;
    this.tokens = this.burst;
    this.last = clock.now();
  }

  /** Resolves when a start is allowed; callers are served in order. */
  take(signal?: AbortSignal): Promise<void> {
    const turn = this.tail.then(() => this.wait(signal));
    this.tail = turn.catch(() => undefined);
    return turn;
  }

  private async wait(signal?: AbortSignal): Promise<void> {
    for (;;) {
      const now = this.clock.now();
      this.tokens = Math.min(this.burst, this.tokens + (now - this.last) * this.perMs);
      this.last = now;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await sleep(this.clock, Math.ceil((1 - this.tokens) / this.perMs), signal);
    }
  }
}
