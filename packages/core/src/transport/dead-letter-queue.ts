/**
 * The dead-letter API the CLI and dashboard use: list, inspect, replay and purge the dead letters
 * of an endpoint, by id, by filter, or all. A replay puts the original message back at the end of
 * its queue with its attempt counters reset and a `missive-replayed-at` header, one message at a
 * time in one transport step each, so an interrupted replay loses nothing.
 *
 * @example
 * ```ts
 * const dlq = bus.deadLetters;
 * const letters = await dlq.list('payment');
 * await dlq.replay('payment', { filter: (d) => d.failure.reason === 'HANDLER_FAILED' });
 * await dlq.purge('payment', 'all');
 * ```
 * @module
 */
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import { Header } from '../message/headers.js';
import type { DeadLetter, Transport } from './transport.js';

/** Which dead letters an operation takes. */
export type DeadLetterSelector = 'all' | { readonly ids: readonly string[] } | { readonly filter: (letter: DeadLetter) => boolean };

const PAGE = 500;

/** Dead letters of a transport's queues. */
export class DeadLetterQueue {
  constructor(
    private readonly transport: Transport,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Dead letters of `endpoint`, oldest first. */
  list(endpoint: string, options?: { readonly limit?: number; readonly offset?: number }): Promise<DeadLetter[]> {
    return this.transport.deadLetters.list(endpoint, options);
  }

  count(endpoint: string): Promise<number> {
    return this.transport.deadLetters.count(endpoint);
  }

  /** One dead letter by message id. */
  get(endpoint: string, id: string): Promise<DeadLetter | undefined> {
    return this.transport.deadLetters.get(endpoint, id);
  }

  /** Moves the selected dead letters back to their queue; returns how many moved. */
  async replay(endpoint: string, selector: DeadLetterSelector): Promise<number> {
    const ids = await this.select(endpoint, selector);
    if (ids.length === 0) return 0;
    const headers = { [Header.ReplayedAt]: new Date(this.clock.now()).toISOString() };
    let moved = 0;
    for (let i = 0; i < ids.length; i += PAGE) moved += await this.transport.deadLetters.replay(endpoint, ids.slice(i, i + PAGE), headers);
    return moved;
  }

  /** Deletes the selected dead letters; returns how many were deleted. */
  async purge(endpoint: string, selector: DeadLetterSelector): Promise<number> {
    const ids = await this.select(endpoint, selector);
    let purged = 0;
    for (let i = 0; i < ids.length; i += PAGE) purged += await this.transport.deadLetters.purge(endpoint, ids.slice(i, i + PAGE));
    return purged;
  }

  private async select(endpoint: string, selector: DeadLetterSelector): Promise<string[]> {
    if (typeof selector === 'object' && 'ids' in selector) return [...selector.ids];
    const filter = selector === 'all' ? undefined : selector.filter;
    const ids: string[] = [];
    for (let offset = 0; ; offset += PAGE) {
      const page = await this.transport.deadLetters.list(endpoint, { limit: PAGE, offset });
      for (const letter of page) if (filter === undefined || filter(letter)) ids.push(letter.message.id);
      if (page.length < PAGE) return ids;
    }
  }
}
