/**
 * `NOTIFY` of the queues that got work, in a statement of its own after the write committed: a
 * `NOTIFY` inside a writing transaction would hold PostgreSQL's global notify lock through that
 * commit's WAL flush, serializing every publisher's commit. This process's own consumers are woken
 * at once, without the round trip.
 *
 * The queues of one event-loop turn go in one statement on the next turn, with at most two
 * statements in flight: queues that get work while two are in flight wait for one of them and then
 * go together in the next. A moderate rate so pays no wait, and a burst costs two statements per
 * round trip rather than one per write (fewer statements, and fewer wake-ups for the consumers). Fire and forget: a lost
 * notification is made up by the poll.
 *
 * The statement runs on a main pool connection, not the listening one: traced under load, a
 * notification sent from the listening session reached the other sessions about 10 ms after its
 * statement returned, one sent from a pool connection before it returned
 * (`bench/src/profile/pg-trace.ts`, docs/BENCHMARKS.md). The listener skips what the main pool's
 * connections sent (`Lane.hasBackend`): those wake-ups were handled here already. With commits
 * asynchronous a publish notifies in its own statement and only wakes this process ({@link Notifier.wake}).
 *
 * @example
 * ```ts
 * const notifier = new Notifier(host);
 * notifier.notify('billing');
 * ```
 * @module
 */
import type { Logger } from '@missive/core';

/** What the notifier needs of the transport. */
export interface NotifierHost {
  readonly logger: Logger;
  isOpen(): boolean;
  /** Handles a notification locally, as if it had come back from the server. */
  notified(queue: string): void;
  /** Sends one `NOTIFY` statement for `queues`. */
  send(queues: string[]): Promise<unknown>;
}

/** Statements in flight at most: a second one spares a moderate rate the wait for the first on a slow server. */
const MAX_IN_FLIGHT = 2;

/** Coalesces notifications: at most {@link MAX_IN_FLIGHT} statements in flight, the rest gathered for the next. */
export class Notifier {
  /** Queues for the next statement. */
  private readonly toNotify = new Set<string>();
  /** Queues whose local consumers are woken on the next turn. */
  private readonly toWake = new Set<string>();
  /** A flush is scheduled for the next turn. */
  private scheduled = false;
  private inFlight = 0;

  constructor(private readonly host: NotifierHost) {}

  /** Tells every transport that `queue` has work ('' : the schedule changed). */
  notify(queue: string): void {
    this.toNotify.add(queue);
    this.wake(queue);
  }

  /** Wakes this process's consumers of `queue` on the next turn, without a `NOTIFY` (one was sent). */
  wake(queue: string): void {
    this.toWake.add(queue);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.wakeLocal();
      this.flush();
    });
  }

  /** Resolves once nothing is pending or in flight (for tests and closing). */
  async idle(): Promise<void> {
    while (this.scheduled || this.inFlight > 0 || this.toNotify.size > 0) await new Promise((resolve) => setImmediate(resolve));
  }

  /** This process's consumers need no round trip. */
  private wakeLocal(): void {
    const queues = [...this.toWake];
    this.toWake.clear();
    if (this.host.isOpen()) for (const q of queues) this.host.notified(q);
  }

  /** Sends what is pending, unless enough statements are in flight (then the next to finish sends it). */
  private flush(): void {
    if (this.toNotify.size === 0 || this.inFlight >= MAX_IN_FLIGHT) return;
    const queues = [...this.toNotify];
    this.toNotify.clear();
    if (!this.host.isOpen()) return;
    this.inFlight++;
    Promise.resolve()
      .then(() => this.host.send(queues))
      .catch((error: unknown) => this.host.logger.debug({ err: error }, 'postgres notify failed; the poll will find the work'))
      .finally(() => {
        this.inFlight--;
        this.flush();
      });
  }
}
