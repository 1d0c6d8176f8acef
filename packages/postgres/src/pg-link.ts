/**
 * The transport's link to PostgreSQL, up or not, and the one place that reconnects.
 *
 * - **One reconnect loop per transport.** When the link goes down, one loop tries `reconnect` (the
 *   listening connection, see `pg-listener.ts`) with exponential backoff and jitter: 100 ms doubling
 *   to a cap of 1 s, each pause drawn between half and all of that. Operations never make connection
 *   attempts of their own while the link is down: they wait for it (30 s of outage: about 35
 *   attempts per transport, whatever the number of waiting publishes; the server back: up again
 *   within about a second).
 * - **A bounded wait.** At most `maxBuffered` operations wait for the link at once; one more fails at
 *   once with {@link PostgresBacklogFullError}. A wait longer than its deadline (`reconnectMs` after
 *   the operation began) fails with {@link PostgresUnavailableError}. Both are retryable
 *   `TransportError`s: the message was not published.
 * - **Logged once per outage**: one warning when the link is lost, one info line when it is back
 *   (with the outage's length and attempts); each failed attempt only at debug level.
 * - **Suspected, then checked.** An operation that failed on a lost connection marks the link
 *   `checking` (operations wait) and asks for a check (a ping on the listening connection): an
 *   answer puts it up again without a word (one pool connection was lost, not the server), none
 *   takes it down.
 *
 * @example
 * ```ts
 * const link = new Link({ logger, maxBuffered: 10_000, reconnect: () => listener.open(), check: () => listener.check() });
 * await link.ready(Date.now() + 60_000); // resolves at once while up
 * ```
 * @module
 */
import { BusStateError, ErrorCode, TransportError, type Logger } from '@missive/core';

/** Too many operations wait for the link already (`maxBuffered`): this one was not run. Retryable. */
export class PostgresBacklogFullError extends TransportError {
  override name = 'PostgresBacklogFullError';
}

/** PostgreSQL stayed unreachable for as long as the operation could wait (`reconnectMs`): not run. Retryable. */
export class PostgresUnavailableError extends TransportError {
  override name = 'PostgresUnavailableError';
}

/** The reconnect backoff: the first pause, its cap (each pause is drawn between half and all of it). */
export const RECONNECT_BASE_MS = 100;
export const RECONNECT_CAP_MS = 1000;

/** What the link needs. */
export interface LinkOptions {
  readonly logger: Logger;
  /** Operations that may wait for the link at once. */
  readonly maxBuffered: number;
  /** One connection attempt: resolves once connected (the link is then up). */
  readonly reconnect: () => Promise<void>;
  /** Checks a suspected link now: resolves when it answered, rejects (or takes it down) otherwise. */
  readonly check: () => Promise<void>;
  /** After the link is back up (not after a check that found it fine). */
  readonly onUp?: () => void;
  /** When the link goes down (before the reconnect loop starts). */
  readonly onDown?: () => void;
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** The link. */
export class Link {
  private state: 'up' | 'checking' | 'down' | 'closed' = 'up';
  private readonly waiters = new Set<Waiter>();
  private downSince = 0;
  private outageAttempts = 0;
  private lastError: unknown;
  /** Connection attempts made by the reconnect loop since the transport opened. */
  attempts = 0;
  /** Outages (the link went down) since the transport opened. */
  outages = 0;

  constructor(private readonly options: LinkOptions) {}

  /** Whether operations may run now. */
  get up(): boolean {
    return this.state === 'up';
  }

  /** Operations waiting for the link now. */
  get waiting(): number {
    return this.waiters.size;
  }

  /**
   * Resolves when the link is up (at once while it is); rejects with {@link PostgresBacklogFullError}
   * when `maxBuffered` operations wait already, {@link PostgresUnavailableError} at `deadline`
   * (`Date.now()` ms), a `BusStateError` when the transport closes.
   */
  ready(deadline: number): Promise<void> {
    if (this.state === 'up') return Promise.resolve();
    if (this.state === 'closed') return Promise.reject(new BusStateError(ErrorCode.Closed, 'postgres transport is closed'));
    if (this.waiters.size >= this.options.maxBuffered)
      return Promise.reject(
        new PostgresBacklogFullError(
          `PostgreSQL is unreachable and ${this.waiters.size} operations already wait for it (maxBuffered); this one was not run`,
        ),
      );
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.waiters.delete(waiter);
          reject(
            new PostgresUnavailableError(
              `PostgreSQL stayed unreachable for as long as the operation could wait (reconnect): ${describe(this.lastError)}; it was not run`,
              { cause: this.lastError },
            ),
          );
        },
        Math.max(0, deadline - Date.now()),
      );
      const waiter: Waiter = { resolve, reject, timer };
      this.waiters.add(waiter);
    });
  }

  /** An operation failed because its connection was lost: operations wait while the link is checked. */
  suspect(error: unknown): void {
    if (this.state !== 'up') return;
    this.state = 'checking';
    this.lastError = error;
    this.options.check().then(
      () => {
        if (this.state !== 'checking') return;
        this.state = 'up';
        this.release();
      },
      (failure: unknown) => this.down(failure),
    );
  }

  /** The link is lost (the listening connection dropped, or stopped answering): reconnect. */
  down(error: unknown): void {
    if (this.state === 'down' || this.state === 'closed') return;
    this.state = 'down';
    this.lastError = error;
    this.downSince = Date.now();
    this.outageAttempts = 0;
    this.outages++;
    this.options.logger.warn(
      { err: error },
      `postgres connection lost; operations wait for it (at most ${this.options.maxBuffered}), reconnecting with backoff (${RECONNECT_BASE_MS} ms doubling to ${RECONNECT_CAP_MS} ms)`,
    );
    this.options.onDown?.();
    void this.reconnectLoop();
  }

  private async reconnectLoop(): Promise<void> {
    for (let n = 0; this.state === 'down'; n++) {
      const cap = Math.min(RECONNECT_CAP_MS, RECONNECT_BASE_MS * 2 ** Math.min(n, 10));
      await new Promise((resolve) => setTimeout(resolve, cap * (0.5 + Math.random() * 0.5)).unref());
      if (this.state !== 'down') return;
      this.attempts++;
      this.outageAttempts++;
      try {
        await this.options.reconnect();
      } catch (error) {
        this.lastError = error;
        this.options.logger.debug({ err: error }, 'postgres reconnect attempt failed; trying again');
        continue;
      }
      if (this.state !== 'down') return; // closed meanwhile
      this.state = 'up';
      this.options.logger.info(
        `postgres connection recovered after ${Date.now() - this.downSince} ms (${this.outageAttempts} connection attempts)`,
      );
      this.release();
      this.options.onUp?.();
      return;
    }
  }

  private release(): void {
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
    this.waiters.clear();
  }

  /** Stops reconnecting; waiting operations fail with a `BusStateError`. */
  close(): void {
    this.state = 'closed';
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new BusStateError(ErrorCode.Closed, 'postgres transport is closed'));
    }
    this.waiters.clear();
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : 'no connection';
}
