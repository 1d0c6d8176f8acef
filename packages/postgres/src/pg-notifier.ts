/**
 * `NOTIFY` of the queues that got work, coalesced per event-loop turn into one statement of its
 * own: a `NOTIFY` inside a writing transaction would hold PostgreSQL's global notify lock through
 * that commit's WAL flush, serializing every publisher's commit. This process's own consumers are
 * woken at once, without the round trip. Fire and forget: a lost notification is made up by the poll.
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

/** Coalesces the notifications of one event-loop turn. */
export class Notifier {
  private readonly toNotify = new Set<string>();

  constructor(private readonly host: NotifierHost) {}

  /** Tells every transport that `queue` has work ('' : the schedule changed), on the next turn. */
  notify(queue: string): void {
    this.toNotify.add(queue);
    if (this.toNotify.size > 1) return;
    setImmediate(() => {
      const queues = [...this.toNotify];
      this.toNotify.clear();
      if (!this.host.isOpen()) return;
      for (const q of queues) this.host.notified(q); // this process's consumers need no round trip
      this.host
        .send(queues)
        .catch((error: unknown) => this.host.logger.debug({ err: error }, 'postgres notify failed; the poll will find the work'));
    });
  }
}
