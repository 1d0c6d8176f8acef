/**
 * The queue listing the CLI and dashboard show: every declared queue with its depth (waiting now or
 * scheduled), the deliveries in flight (leased and not expired), its dead letters, its topics, its
 * consumers in every process and, while it has none, since when (see `pg-consumer-rows.ts`).
 * Counts scan the tables: an operator's query, not a hot path.
 *
 * @example
 * ```ts
 * const queues = await transport.transaction((client) => listQueues(client, sql, Date.now()));
 * ```
 * @module
 */
import type pg from 'pg';
import type { QueueInfo } from '@missive/core';
import type { Statements } from './statements.js';

/**
 * Lists the queues, by name, on `client` inside a transaction of the caller's. The counts are read
 * from one snapshot (`REPEATABLE READ`): a consumer that leaves between two reads never shows as
 * gone without the idle time its leaving wrote.
 */
export async function listQueues(client: pg.ClientBase, sql: Statements, now: number): Promise<QueueInfo[]> {
  const run = async <R extends pg.QueryResultRow>(text: string, values: unknown[]) => client.query<R>(text, values);
  await client.query('set transaction isolation level repeatable read, read only');
  const names = await run<{ name: string; created_at: string; idle_since: string | null }>(sql.queueRows, []);
  const counts = await run<{ queue: string; held: string; total: string }>(sql.queueCounts, [now]);
  const scheduled = await run<{ queue: string; n: string }>(sql.scheduledCounts, []);
  const dead = await run<{ queue: string; n: string }>(sql.deadCounts, []);
  const bindings = await run<{ queue: string; pattern: string }>(sql.bindings, []);
  const consumers = await run<{ queue: string; n: number }>(sql.consumerCounts, []);
  const attached = new Map(consumers.rows.map((r) => [r.queue, r.n]));
  const byQueue = new Map(counts.rows.map((r) => [r.queue, { held: Number(r.held), total: Number(r.total) }]));
  const later = new Map(scheduled.rows.map((r) => [r.queue, Number(r.n)]));
  const letters = new Map(dead.rows.map((r) => [r.queue, Number(r.n)]));
  const topics = new Map<string, string[]>();
  for (const b of bindings.rows) topics.set(b.queue, [...(topics.get(b.queue) ?? []), b.pattern]);
  return names.rows.map(({ name, created_at, idle_since }) => {
    const c = byQueue.get(name);
    const n = attached.get(name) ?? 0;
    return {
      name,
      depth: (c?.total ?? 0) - (c?.held ?? 0) + (later.get(name) ?? 0),
      inFlight: c?.held ?? 0,
      deadLetters: letters.get(name) ?? 0,
      topics: topics.get(name) ?? [],
      consumers: n,
      idleSince: n > 0 ? undefined : Number(idle_since ?? created_at),
    };
  });
}
