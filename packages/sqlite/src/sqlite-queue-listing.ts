/**
 * The queue listing the CLI and dashboard show: every declared queue with its depth (waiting now or
 * scheduled), the deliveries in flight (leased and not expired), its dead letters, its topics, its
 * consumers in every live process and, while it has none, since when. Plain reads (WAL readers never
 * wait): an operator's query, not a hot path.
 *
 * @example
 * ```ts
 * const queues = listQueues(statements, Date.now(), presence.staleAfterMs());
 * ```
 * @module
 */
import type { QueueInfo } from '@missive/core';
import type { SqliteStatements } from './sqlite-statements.js';

/** Lists the queues, by name; consumers last seen more than `staleAfterMs` before `now` are not counted. */
export function listQueues(s: SqliteStatements, now: number, staleAfterMs: number): QueueInfo[] {
  const consumers = new Map(
    (s.consumerCounts.all(now - staleAfterMs) as { queue: string; n: number; seen: number }[]).map((r) => [r.queue, r]),
  );
  const counts = new Map((s.queueCounts.all(now) as { queue: string; held: number; total: number }[]).map((r) => [r.queue, r]));
  const scheduled = new Map((s.scheduledCounts.all() as { queue: string; n: number }[]).map((r) => [r.queue, r.n]));
  const dead = new Map((s.deadCounts.all() as { queue: string; n: number }[]).map((r) => [r.queue, r.n]));
  const topics = new Map<string, string[]>();
  for (const b of s.bindings.all() as { queue: string; pattern: string }[])
    topics.set(b.queue, [...(topics.get(b.queue) ?? []), b.pattern]);
  return (s.queueRows.all() as { name: string; created_at: number }[]).map(({ name, created_at }) => {
    const c = counts.get(name);
    const active = consumers.get(name);
    return {
      name,
      depth: (c?.total ?? 0) - (c?.held ?? 0) + (scheduled.get(name) ?? 0),
      inFlight: c?.held ?? 0,
      deadLetters: dead.get(name) ?? 0,
      topics: topics.get(name) ?? [],
      consumers: active?.n ?? 0,
      idleSince: (active?.n ?? 0) > 0 ? undefined : Math.max(created_at, active?.seen ?? 0),
    };
  });
}
