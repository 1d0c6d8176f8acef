/**
 * postgres: Missive on `@missive/postgres` against a raw `pg` `SKIP LOCKED` queue with the same
 * guarantees and statement pattern (and pg-boss as a peer): one publisher process and two consumer
 * processes; then 8 competing consumer processes working through 10,000 queued jobs (none may run
 * twice, none be lost); then one consumer with a million messages waiting (the claim must not slow
 * down with the backlog).
 *
 * @module
 */
import pg from 'pg';
import { spawnChild } from '../harness/child.js';
import { comparisonTable, fmtRate } from '../harness/report.js';
import { alternate, runBroker, type BrokerPlan, type Subject } from '../harness/rounds.js';
import type { Scenario } from '../harness/scenario.js';
import { runId, sleep } from '../harness/time.js';
import { cleanupAll } from './cleanup.js';
import { backlog, backlogTable } from './scale.js';

/** The server: `MISSIVE_POSTGRES_URL`, else the local one. */
export const PG_URL = process.env.MISSIVE_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

function urlWith(params: Record<string, string>): string {
  const url = new URL(PG_URL);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.href;
}

async function dropSchemas(schemas: readonly string[]): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    for (const s of schemas) await client.query(`drop schema if exists "${s}" cascade`);
  } finally {
    await client.end();
  }
}

interface Competing {
  readonly workers: number;
  readonly jobs: number;
  readonly seconds: number;
  readonly handled: number;
  readonly twice: number;
  readonly missing: number;
  readonly perWorker: number[];
}

/** Fills `jobs` messages, then `workers` processes compete for them; counts repeats and losses. */
async function competing(url: string, name: string, workers: number, jobs: number, log: (line: string) => void): Promise<Competing> {
  await spawnChild('subjects/fill.js', 'fill', { url, name, count: jobs }, { timeoutMs: 120_000 }).done;
  log(`  competing: ${jobs} jobs queued; starting ${workers} workers`);
  const children = Array.from({ length: workers }, () =>
    spawnChild<{ ids: string[] }>(
      'subjects/pg-jobs.js',
      'jobsWorker',
      { url, name, prefetch: 16, concurrency: 8, workMs: 1 },
      { timeoutMs: 180_000 },
    ),
  );
  await Promise.all(children.map((c) => c.next('ready', 60_000)));
  const started = Date.now();
  for (;;) {
    const total = children.reduce((sum, c) => sum + Number(c.latest('progress') ?? 0), 0);
    if (total >= jobs || Date.now() - started > 120_000) break;
    await sleep(50);
  }
  const seconds = (Date.now() - started) / 1000;
  for (const c of children) c.send('stop');
  const results = await Promise.all(children.map((c) => c.done));
  const seen = new Map<string, number>();
  for (const { result } of results) for (const id of result.ids) seen.set(id, (seen.get(id) ?? 0) + 1);
  const twice = [...seen.values()].filter((n) => n > 1).length;
  let missing = 0;
  for (let n = 0; n < jobs; n++) if (!seen.has(`o-${n}`)) missing++;
  return {
    workers,
    jobs,
    seconds,
    handled: results.reduce((sum, r) => sum + r.result.ids.length, 0),
    twice,
    missing,
    perWorker: results.map((r) => r.result.ids.length),
  };
}

export const postgres: Scenario = {
  name: 'postgres',
  title: 'postgres: Missive vs a raw pg SKIP LOCKED queue (and pg-boss)',
  budgetMs: 900_000,
  facts: { packages: ['zod', 'pg', 'pg-boss'] },
  async run(ctx) {
    const id = runId()
      .replace(/[^a-z0-9]/gi, '')
      .toLowerCase();
    const common = { prefetch: 32, concurrency: 16 };
    const missiveSchema = `bench_missive_${id}`;
    const subjects: Subject[] = [
      {
        label: 'Missive (postgres://)',
        module: 'subjects/missive-bus.js',
        args: { ...common, name: `bench-${id}`, url: urlWith({ schema: missiveSchema }) },
        note: 'endpoint concurrency 16 per consumer',
      },
      {
        label: 'raw pg (SKIP LOCKED, same pattern)',
        module: 'subjects/raw-pg.js',
        args: { ...common, name: 'queue', url: PG_URL, schema: `bench_raw_${id}` },
      },
      {
        label: 'pg-boss 10',
        module: '../peers/dist/subjects/pg-boss.js',
        args: { ...common, name: `bench-${id}`, url: PG_URL, schema: `bench_pgboss_${id}` },
        note: 'polls every 0.5 s (its minimum; no LISTEN wake-up in version 10, the last for Node 20), batch of 32 per fetch, completes per batch, maintenance off; one round only (a round takes it about 110 s here)',
        maxRounds: 1,
      },
    ];
    const plan: BrokerPlan = {
      consumers: 2,
      warmup: ctx.quick ? 300 : 1_000,
      count: ctx.quick ? 3_000 : 10_000,
      window: 32,
      latencyCount: ctx.quick ? 500 : 2_000,
      rate: 200,
      timeoutMs: 120_000,
    };
    const rounds = ctx.rounds ?? (ctx.quick ? 1 : 5);
    const schemas = [missiveSchema, `bench_jobs_${id}`];
    try {
      const { rows, rounds: ran } = await alternate(subjects, { rounds, deadline: ctx.deadline - 200_000, log: ctx.log }, (s, row) =>
        runBroker(s, row, plan),
      );
      const parts = [
        `${ran} rounds, alternating; per round and system one publisher process and two consumer processes: ${plan.warmup.toLocaleString('en-US')} warm-up messages, ${plan.count.toLocaleString('en-US')} published with at most ${plan.window} unconfirmed (throughput: first publish to last handled), then ${plan.latencyCount.toLocaleString('en-US')} at ${plan.rate} msg/s (latency across processes, publish → handler, woken by NOTIFY). Prefetch ${common.prefetch} per consumer on both sides; every publish is its own durable commit.`,
        '',
        comparisonTable(rows, 'Missive (postgres://)', { rate: `${plan.rate}/s` }),
        '',
      ];
      const workers = 8;
      const jobs = ctx.quick ? 2_000 : 10_000;
      ctx.log(`  competing: ${workers} processes x ${jobs} jobs`);
      const c = await competing(urlWith({ schema: `bench_jobs_${id}` }), `jobs-${id}`, workers, jobs, ctx.log);
      parts.push(
        `#### ${workers} competing consumer processes, ${jobs.toLocaleString('en-US')} queued jobs`,
        '',
        'Each worker: prefetch 16, concurrency 8, 1 ms of work per job; lease 30 s (the default).',
        '',
        '| workers | jobs | handled | run twice | lost | seconds | jobs/s | per worker |',
        '| --- | --- | --- | --- | --- | --- | --- | --- |',
        `| ${c.workers} | ${c.jobs.toLocaleString('en-US')} | ${c.handled.toLocaleString('en-US')} | ${c.twice} | ${c.missing} | ${c.seconds.toFixed(1)} | ${fmtRate(c.jobs / c.seconds)} | ${c.perWorker.join(', ')} |`,
        '',
      );
      const backlogs = [];
      for (const count of ctx.quick ? [20_000, 100_000] : [100_000, 1_000_000]) {
        const schema = `bench_backlog_${count}_${id}`;
        schemas.push(schema);
        const subject: Subject = {
          label: 'Missive (postgres://)',
          module: 'subjects/missive-bus.js',
          args: { ...common, name: `backlog-${id}`, url: urlWith({ schema }) },
        };
        backlogs.push(await backlog(`postgres, ${count.toLocaleString('en-US')} waiting`, subject, count, ctx.quick ? 5 : 10, ctx.log));
      }
      parts.push('#### One consumer with a backlog: the rate must not fall as the backlog grows', '', backlogTable(backlogs), '');
      return parts.join('\n');
    } finally {
      await cleanupAll(
        subjects.filter((s) => s.module !== 'subjects/missive-bus.js'),
        ctx.log,
      );
      await dropSchemas(schemas).catch((error: unknown) => ctx.log(`  dropping schemas failed: ${(error as Error).message}`));
    }
  },
};
