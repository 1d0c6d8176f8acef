/**
 * The backoff of a SQLite connection's fetch while it keeps failing (a full disk, an I/O error):
 * exponential from {@link FIRST_DELAY_MS}, capped at {@link MAX_DELAY_MS}, each delay ×0.5–1.5
 * (jitter). While it waits, wake-ups (the file-system watch, acks, the poll) do not fetch: only its
 * own timer does, so a full disk costs a few attempts a second, not thousands.
 *
 * An outage is logged twice: one error line at its first failure and one warn line when a fetch
 * succeeds again (with the attempts and the time it lasted); the failures between are not logged.
 * While it lasts, {@link FetchBackoff.failing} says why, for the transport's `status()` (health and
 * readiness).
 *
 * @example
 * ```ts
 * const backoff = new FetchBackoff(logger, clock);
 * if (backoff.waiting()) return; // its timer wakes the pump
 * try { fetch(); backoff.succeeded(); } catch (error) { setTimeout(wake, backoff.failed(error)); }
 * ```
 * @module
 */
import type { Clock, Logger } from '@missive/core';

/** The first retry's delay. */
export const FIRST_DELAY_MS = 20;
/** The longest delay between two attempts. */
export const MAX_DELAY_MS = 2000;

/** An outage of the fetch: since when, how many attempts failed, the last error. */
interface Outage {
  readonly since: number;
  attempts: number;
  error: Error;
}

/** The fetch backoff of one connection. */
export class FetchBackoff {
  private outage: Outage | undefined;
  /** When the next attempt may be made (0: now). */
  private retryAt = 0;

  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly random: () => number = Math.random,
  ) {}

  /** Whether an attempt must wait for the backoff's timer (a wake-up now is ignored). */
  waiting(): boolean {
    return this.retryAt > 0 && this.clock.now() < this.retryAt;
  }

  /** Records a failed attempt; returns how long to wait before the next (the caller arms a timer for it). */
  failed(error: Error): number {
    const now = this.clock.now();
    if (this.outage === undefined) {
      this.outage = { since: now, attempts: 1, error };
      this.logger.error({ err: error }, 'sqlite fetch failing; retrying with backoff (logged once until it recovers)');
    } else {
      this.outage.attempts++;
      this.outage.error = error;
    }
    const exponent = Math.min(this.outage.attempts - 1, 16);
    const delay = Math.round(Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** exponent) * (0.5 + this.random()));
    this.retryAt = now + delay;
    return delay;
  }

  /** The backoff's timer fired: the next wake-up attempts (the outage goes on until an attempt succeeds). */
  retryNow(): void {
    this.retryAt = 0;
  }

  /** Records a successful attempt; ends an outage with one line. */
  succeeded(): void {
    this.retryAt = 0;
    const outage = this.outage;
    if (outage === undefined) return;
    this.outage = undefined;
    this.logger.warn(
      { attempts: outage.attempts, ms: this.clock.now() - outage.since },
      `sqlite fetch recovered after ${outage.attempts} failed attempt(s) over ${this.clock.now() - outage.since} ms`,
    );
  }

  /** Why fetching fails now (with the attempts so far), or undefined when it does not. */
  failing(): string | undefined {
    const outage = this.outage;
    if (outage === undefined) return undefined;
    return `fetching messages fails (${outage.attempts} attempt(s) since ${new Date(outage.since).toISOString()}): ${outage.error.message}`;
  }
}
