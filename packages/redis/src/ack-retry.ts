/**
 * The acks a consumer sends again after a lost connection. ioredis resends a command in flight when
 * the link drops only if the link was ready when it closed; otherwise (and, with the default
 * `maxRetriesPerRequest`, every 21 reconnect attempts, or at once once the client has ended) it
 * fails the command. An ack that failed that way is kept here (ids only) and handed back once the
 * connection is ready again, to go out with the consumer's next acks. Sending one again is
 * harmless: `XACK` of an id no longer pending acks nothing, and the `ack` and `ackEntries` scripts
 * check the pending-entries list first. An ack that failed for another reason (Redis answered with
 * an error) is not kept: sending it again would fail again.
 *
 * Bounded: past `limit` units, the oldest are dropped (their messages are delivered again after
 * `claimIdle`, as before), and `keep` says how many.
 *
 * @example
 * ```ts
 * const retry = new AckRetry(() => transport.readyEvents, (units) => units.forEach(queueAck));
 * if (isConnectionError(error)) retry.keep(batch);
 * ```
 * @module
 */
import type { AckUnit } from './redis-settles.js';
import { isLinkTimeout } from './redis-liveness.js';

/** The most ack units kept for sending again (ids only: a few MiB at most). */
export const ACK_RETRY_LIMIT = 100_000;

/** What tells when a connection is ready again: an ioredis client, or the transport's `ReadyFanout` (what consumers pass: one listener on the connection). */
export interface ReadyLink {
  readonly status: string;
  once(event: 'ready', listener: () => void): unknown;
}

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTCONN',
]);

/**
 * Whether a command failed because its connection was lost (so it may not have reached Redis, and
 * can be sent again once reconnected): ioredis's `MaxRetriesPerRequestError`, "Connection is
 * closed.", a stream that is not writable, a socket timeout, or a socket error. A reply error (Redis
 * answered) is not.
 */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'MaxRetriesPerRequestError') return true;
  if (error.message === 'Connection is closed.' || error.message.startsWith("Stream isn't writeable")) return true;
  if (isLinkTimeout(error)) return true;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && NETWORK_CODES.has(code);
}

/** Ack units waiting for their connection to be ready again. */
export class AckRetry {
  private readonly units: AckUnit[] = [];
  private waiting = false;

  /**
   * @param link the connection whose `ready` releases the units (read at each wait: a transport's
   *   client), or `undefined` when it is closed for good (the units stay, counted by {@link size})
   * @param resend takes the units back (they join the consumer's next ack batch)
   */
  constructor(
    private readonly link: () => ReadyLink | undefined,
    private readonly resend: (units: AckUnit[]) => void,
    readonly limit = ACK_RETRY_LIMIT,
  ) {}

  /** The entry ids of the units kept. */
  *entryIds(): Iterable<string> {
    for (const unit of this.units) yield unit.entryId;
  }

  /** Units kept, not yet handed back. */
  get size(): number {
    return this.units.length;
  }

  /**
   * Keeps `units` until the connection is ready (handed back on the next turn if it already is).
   * Returns how many older units were dropped to stay within the limit.
   */
  keep(units: readonly AckUnit[]): number {
    for (const unit of units) this.units.push(unit);
    const dropped = Math.max(0, this.units.length - this.limit);
    if (dropped > 0) this.units.splice(0, dropped);
    this.arm();
    return dropped;
  }

  private arm(): void {
    if (this.waiting || this.units.length === 0) return;
    const link = this.link();
    if (link === undefined) return;
    this.waiting = true;
    if (link.status === 'ready') setImmediate(this.release);
    else link.once('ready', this.release);
  }

  private readonly release = (): void => {
    this.waiting = false;
    const units = this.units.splice(0);
    if (units.length > 0) this.resend(units);
  };
}
