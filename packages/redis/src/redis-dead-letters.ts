/**
 * The dead-letter queues of the Redis transport: a stream per queue (`<prefix>dl:<queue>`) whose
 * entries are the message as it was delivered plus its failure (`f`), and an index from message
 * id to entry. Replay moves one dead letter back to the end of its queue in one script, so an
 * interrupted replay leaves each message either dead-lettered or queued.
 *
 * @example
 * ```ts
 * const letters = await transport.deadLetters.list('payment', { limit: 20 });
 * ```
 * @module
 */
import type { DeadLetter, DeadLetterFailure, DeadLetterStore } from '@missive/core/transport';
import { readEntry } from './entry.js';
import type { RedisConnection } from './redis-connection.js';

/** The store. */
export class RedisDeadLetters implements DeadLetterStore {
  constructor(private readonly transport: RedisConnection) {}

  private letter(queue: string, fields: Buffer[]): DeadLetter {
    const read = readEntry(fields);
    return { queue, message: read.message, failure: JSON.parse(read.failure ?? '{}') as DeadLetterFailure };
  }

  async list(queue: string, options?: { readonly limit?: number; readonly offset?: number }): Promise<DeadLetter[]> {
    const offset = options?.offset ?? 0;
    const key = this.transport.keys.deadLetters(queue);
    const entries =
      options?.limit === undefined
        ? await this.transport.redis.xrangeBuffer(key, '-', '+')
        : await this.transport.redis.xrangeBuffer(key, '-', '+', 'COUNT', offset + options.limit);
    return entries.slice(offset).map(([, fields]) => this.letter(queue, fields));
  }

  async count(queue: string): Promise<number> {
    return this.transport.redis.xlen(this.transport.keys.deadLetters(queue));
  }

  async get(queue: string, id: string): Promise<DeadLetter | undefined> {
    const entryId = await this.transport.redis.hget(this.transport.keys.deadLetterIndex(queue), id);
    if (entryId === null) return undefined;
    const [entry] = await this.transport.redis.xrangeBuffer(this.transport.keys.deadLetters(queue), entryId, entryId);
    return entry === undefined ? undefined : this.letter(queue, entry[1]);
  }

  async replay(queue: string, ids: readonly string[], headers: Readonly<Record<string, string>>): Promise<number> {
    const text = Object.keys(headers).length === 0 ? '' : JSON.stringify(headers);
    let moved = 0;
    for (const id of ids) moved += Number(await this.transport.scripts.run('replay', [], [this.transport.keys.prefix, queue, id, text]));
    return moved;
  }

  async purge(queue: string, ids: readonly string[]): Promise<number> {
    let purged = 0;
    for (const id of ids) purged += Number(await this.transport.scripts.run('purge', [], [this.transport.keys.prefix, queue, id]));
    return purged;
  }
}
