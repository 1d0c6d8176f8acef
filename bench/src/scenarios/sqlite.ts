/**
 * sqlite: Missive on `@missive/sqlite` against a minimal hand-written better-sqlite3 queue with the
 * same durability (WAL, the same `synchronous`, one transaction per publish, leased fetches, one
 * delete per ack): one publisher process and two consumer processes on one database file.
 *
 * @module
 */
import { mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { comparisonTable } from '../harness/report.js';
import { alternate, runBroker, type BrokerPlan, type Subject } from '../harness/rounds.js';
import type { Scenario } from '../harness/scenario.js';
import { runId } from '../harness/time.js';
import { cleanupAll } from './cleanup.js';

/** Where database files go: on the project's disk (not a tmpfs), under the ignored results folder. */
export const DB_DIR = fileURLToPath(new URL('../../results/db/', import.meta.url));

export function removeDb(path: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
}

export const sqlite: Scenario = {
  name: 'sqlite',
  title: 'sqlite: Missive vs a hand-written better-sqlite3 queue',
  budgetMs: 140_000,
  facts: { sqlite: true, packages: ['zod'] },
  async run(ctx) {
    mkdirSync(DB_DIR, { recursive: true });
    const id = runId();
    const common = { prefetch: 32, concurrency: 16 };
    const subjects: Subject[] = [];
    for (const synchronous of ['FULL', 'NORMAL'] as const) {
      if (ctx.quick && synchronous === 'NORMAL') continue;
      const missivePath = `${DB_DIR}missive-${synchronous}-${id}.db`;
      subjects.push(
        {
          label: `Missive (synchronous=${synchronous})`,
          module: 'subjects/missive-bus.js',
          args: {
            ...common,
            name: `bench-${synchronous.toLowerCase()}-${id}`,
            url: `sqlite://${missivePath}?synchronous=${synchronous.toLowerCase()}`,
            path: missivePath,
          },
          note: synchronous === 'FULL' ? 'the transport default; endpoint concurrency 16 per consumer' : undefined,
        },
        {
          label: `raw better-sqlite3 (synchronous=${synchronous})`,
          module: 'subjects/raw-sqlite.js',
          args: { ...common, name: 'queue', path: `${DB_DIR}raw-${synchronous}-${id}.db`, synchronous },
        },
      );
    }
    const plan: BrokerPlan = {
      consumers: 2,
      warmup: ctx.quick ? 300 : 1_000,
      count: ctx.quick ? 3_000 : 10_000,
      window: 32,
      latencyCount: ctx.quick ? 500 : 2_000,
      rate: 500,
      timeoutMs: 60_000,
    };
    const rounds = ctx.rounds ?? (ctx.quick ? 1 : 3);
    try {
      const { rows, rounds: ran } = await alternate(subjects, { rounds, deadline: ctx.deadline - 15_000, log: ctx.log }, (s, row) =>
        runBroker(s, row, plan),
      );
      const tables: string[] = [];
      for (const synchronous of ['FULL', 'NORMAL']) {
        const mine = rows.filter((r) => r.label.includes(`synchronous=${synchronous}`));
        if (mine.length > 0)
          tables.push(
            `#### synchronous=${synchronous}`,
            '',
            comparisonTable(mine, `Missive (synchronous=${synchronous})`, { rate: `${plan.rate}/s` }),
            '',
          );
      }
      return [
        `${ran} rounds, alternating; per round and system one publisher process and two consumer processes on one database file (ext4, WAL): ${plan.warmup.toLocaleString('en-US')} warm-up messages, ${plan.count.toLocaleString('en-US')} published with at most ${plan.window} unconfirmed (throughput: first publish to last handled), then ${plan.latencyCount.toLocaleString('en-US')} at ${plan.rate} msg/s (latency across processes). Prefetch ${common.prefetch} per consumer on both sides.`,
        '',
        ...tables,
      ].join('\n');
    } finally {
      await cleanupAll(
        subjects.filter((s) => s.module !== 'subjects/missive-bus.js'),
        ctx.log,
      );
      for (const s of subjects) if (typeof s.args['path'] === 'string') removeDb(s.args['path']);
    }
  },
};
