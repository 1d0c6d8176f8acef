/**
 * sqlite: Missive on `@missive/sqlite` against a minimal hand-written better-sqlite3 queue with the
 * same durability (WAL, the same `synchronous`, one transaction per publish, leased fetches, one
 * delete per ack): one publisher process and two consumer processes on one database file. Each
 * round's CPU per message (consumers and publisher, throughput phase) gives Missive ÷ raw per round.
 *
 * - `MISSIVE_SQLITE_SYNC=full|normal` runs one `synchronous` setting only (default: both).
 * - `MISSIVE_BASELINE_DIR=<checkout>` adds "Missive before": that checkout's built `@missive/sqlite`
 *   with this checkout's core, alternating with the others.
 * - `--rounds N` runs N rounds whatever the scenario's time cap (without it, rounds stop at the cap).
 *
 * @module
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { comparisonTable, type Row } from '../harness/report.js';
import { alternate, runBroker, type BrokerPlan, type Subject } from '../harness/rounds.js';
import type { Scenario } from '../harness/scenario.js';
import { spread } from '../harness/stats.js';
import { runId } from '../harness/time.js';
import { cleanupAll } from './cleanup.js';

/** Where database files go: on the project's disk (not a tmpfs), under the ignored results folder. */
export const DB_DIR = fileURLToPath(new URL('../../results/db/', import.meta.url));

export function removeDb(path: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
}

/** CPU µs per message of all the round's processes (consumers and publisher), one per round. */
function cpuPerRound(row: Row): number[] {
  const roles = Object.values(row.cpu);
  if (roles.length === 0) return [];
  const rounds = Math.min(...roles.map((values) => values.length));
  return Array.from({ length: rounds }, (_, i) => roles.reduce((sum, values) => sum + values[i]!, 0));
}

/** Missive ÷ raw in each round (the two ran one after the other in that round), and the median. */
function perRound(rows: readonly Row[]): string {
  const missive = rows.find((r) => r.label.startsWith('Missive (')) ?? rows.find((r) => r.label.startsWith('Missive'));
  const raw = rows.find((r) => r.label.startsWith('raw'));
  if (missive === undefined || raw === undefined) return '';
  const ratios = (a: readonly number[], b: readonly number[]) => a.slice(0, Math.min(a.length, b.length)).map((x, i) => x / b[i]!);
  const line = (name: string, values: number[]) =>
    values.length === 0
      ? ''
      : `- ${name} per round: ${values.map((v) => v.toFixed(2)).join(', ')} (median ${spread(values).median.toFixed(2)})`;
  const before = rows.find((r) => r.label.startsWith('Missive before'));
  return [
    line('Missive ÷ raw, msg/s,', ratios(missive.throughput, raw.throughput)),
    line(
      'Missive ÷ raw, CPU µs per message of all processes (above 1: Missive costs more),',
      ratios(cpuPerRound(missive), cpuPerRound(raw)),
    ),
    before === undefined ? '' : line('Missive before ÷ raw, CPU µs per message,', ratios(cpuPerRound(before), cpuPerRound(raw))),
    before === undefined
      ? ''
      : line('Missive ÷ Missive before, CPU µs per message (below 1: cheaper now),', ratios(cpuPerRound(missive), cpuPerRound(before))),
  ]
    .filter((l) => l !== '')
    .join('\n');
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
    const only = process.env.MISSIVE_SQLITE_SYNC?.toUpperCase();
    const baselineDir = process.env.MISSIVE_BASELINE_DIR;
    for (const synchronous of ['FULL', 'NORMAL'] as const) {
      if (ctx.quick && synchronous === 'NORMAL') continue;
      if (only !== undefined && only !== '' && only !== synchronous) continue;
      const missivePath = `${DB_DIR}missive-${synchronous}-${id}.db`;
      if (baselineDir !== undefined && baselineDir !== '') {
        const basePath = `${DB_DIR}missive-before-${synchronous}-${id}.db`;
        subjects.push({
          label: `Missive before (synchronous=${synchronous})`,
          module: 'subjects/missive-bus.js',
          args: {
            ...common,
            name: `bench-before-${synchronous.toLowerCase()}-${id}`,
            url: `sqlite://${basePath}?synchronous=${synchronous.toLowerCase()}`,
            path: basePath,
            transportModule: join(baselineDir, 'packages', 'sqlite', 'dist', 'index.js'),
          },
          note: `the @missive/sqlite of the build in ${baselineDir}, with this checkout's core`,
        });
      }
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
      const deadline = ctx.rounds === undefined ? ctx.deadline - 15_000 : Number.POSITIVE_INFINITY;
      const { rows, rounds: ran } = await alternate(subjects, { rounds, deadline, log: ctx.log }, (s, row) => runBroker(s, row, plan));
      const tables: string[] = [];
      for (const synchronous of ['FULL', 'NORMAL']) {
        const mine = rows.filter((r) => r.label.includes(`synchronous=${synchronous}`));
        if (mine.length > 0)
          tables.push(
            `#### synchronous=${synchronous}`,
            '',
            comparisonTable(mine, `Missive (synchronous=${synchronous})`, { rate: `${plan.rate}/s` }),
            '',
            perRound(mine),
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
