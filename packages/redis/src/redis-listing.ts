/**
 * The listing of a Redis transport's queues (`Transport.queues`): every queue under the prefix with
 * its depth, in-flight and dead-letter counts, bound topics, attached consumers and since when it
 * has had none. The counts of each queue are read by one script, so they agree with each other.
 *
 * @example
 * ```ts
 * const queues = await listQueues(transport); // transport: a RedisConnection
 * ```
 * @module
 */
import type { QueueInfo } from '@missive/core/transport';
import type { RedisConnection } from './redis-connection.js';

/** What the listing reads through. */
export type ListingConnection = Pick<RedisConnection, 'redis' | 'scripts' | 'keys' | 'clock'>;

/** The queues under the connection's prefix, sorted by name. */
export async function listQueues(connection: ListingConnection): Promise<QueueInfo[]> {
  const { redis, keys } = connection;
  const [owners, bindings] = await Promise.all([redis.hgetall(keys.queues), redis.smembers(keys.bindings)]);
  const topics = new Map<string, string[]>();
  for (const binding of bindings) {
    const tab = binding.indexOf('\t');
    const list = topics.get(binding.slice(0, tab)) ?? [];
    list.push(binding.slice(tab + 1));
    topics.set(binding.slice(0, tab), list);
  }
  const names = Object.keys(owners).sort();
  const now = connection.clock.now();
  const stats = await Promise.all(names.map((name) => connection.scripts.run('stats', [], [keys.prefix, name, now]) as Promise<number[]>));
  return names.map((name, i) => {
    const [length, pending, delayed, dead, waiting, consumers, idleSince] = stats[i]!.map(Number) as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const info: QueueInfo = {
      name,
      depth: length - pending + delayed + waiting,
      inFlight: pending,
      deadLetters: dead,
      topics: (topics.get(name) ?? []).sort(),
      consumers,
    };
    return idleSince >= 0 ? { ...info, idleSince } : info;
  });
}
