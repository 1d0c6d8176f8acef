/**
 * `NOTIFY` of the queues that got work, in a statement of its own after the write committed: a
 * `NOTIFY` inside a writing transaction would hold PostgreSQL's global notify lock through that
 * commit's WAL flush, serializing every publisher's commit. This process's own consumers are woken
 * at once, without the round trip.
 *
 * At most one `NOTIFY` statement is in flight: the first queue is sent on the next event-loop turn;
 * queues that get work while a statement is in flight wait for it and then go together in the next
 * one. A moderate rate so pays no wait, and a burst costs one statement per round trip rather than
 * one per write (fewer statements, and fewer wake-ups for the consumers). Fire and forget: a lost
 * notification is made up by the poll.
 *
 * @example
 * ```ts
 * const notifier = new Notifier(host);
 * notifier.notify('billing');
 * ```
 * @module
 */
import type pg from 'pg';
import type { Logger } from '@missive/core';
import { isConnectionError } from './pg-errors.js';

/** What the notifier needs of the transport. */
export interface NotifierHost {
  readonly logger: Logger;
  isOpen(): boolean;
  /** Handles a notification locally, as if it had come back from the server. */
  notified(queue: string): void;
  /** Sends one `NOTIFY` statement for `queues`. */
  send(queues: string[]): Promise<unknown>;
}

/** Coalesces notifications: one statement in flight, the rest gathered for the next. */
export class Notifier {
  /** Queues for the next statement. */
  private readonly toNotify = new Set<string>();
  /** Queues whose local consumers are woken on the next turn. */
  private readonly toWake = new Set<string>();
  /** A send is scheduled or in flight; new queues join {@link toNotify} for the next one. */
  private busy = false;

  constructor(private readonly host: NotifierHost) {}

  /** Tells every transport that `queue` has work ('' : the schedule changed). */
  notify(queue: string): void {
    this.toNotify.add(queue);
    this.toWake.add(queue);
    if (this.toWake.size === 1) setImmediate(() => this.wakeLocal());
    if (this.busy) return;
    this.busy = true;
    setImmediate(() => this.sendPending());
  }

  /** This process's consumers need no round trip. */
  private wakeLocal(): void {
    const queues = [...this.toWake];
    this.toWake.clear();
    if (this.host.isOpen()) for (const q of queues) this.host.notified(q);
  }

  /** Resolves once nothing is pending or in flight (for tests and closing). */
  async idle(): Promise<void> {
    while (this.busy) await new Promise((resolve) => setImmediate(resolve));
  }

  private sendPending(): void {
    const queues = [...this.toNotify];
    this.toNotify.clear();
    if (queues.length === 0 || !this.host.isOpen()) {
      this.busy = false;
      return;
    }
    this.host
      .send(queues)
      .catch((error: unknown) => this.host.logger.debug({ err: error }, 'postgres notify failed; the poll will find the work'))
      .finally(() => this.sendPending());
  }
}

/**
 * Runs the `NOTIFY` statement on a connection of `pool` and adds its server process to `backends`,
 * so the listener can tell this transport's own notifications when they come back. Not on the
 * listening connection: traced under load, a notification sent from the listening session reached
 * the other sessions about 10 ms after its statement returned, one sent from a pool connection
 * before it returned (`bench/src/profile/pg-trace.ts`, docs/BENCHMARKS.md).
 */
export async function notifyOnPool(
  pool: pg.Pool,
  statement: { readonly name: string; readonly text: string },
  values: unknown[],
  backends: Set<number>,
): Promise<void> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    backends.add((client as unknown as { processID: number }).processID);
    await client.query({ name: statement.name, text: statement.text, values });
  } catch (error) {
    if (isConnectionError(error)) broken = error as Error;
    throw error;
  } finally {
    client.release(broken);
  }
}
