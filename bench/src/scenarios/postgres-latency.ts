/**
 * postgres-latency: how long a message takes from `publish` in one process to the handler in
 * another at a moderate rate (200 msg/s for 10 s), woken by `NOTIFY`: Missive on
 * `@missive/postgres` and the raw `pg` queue of the same pattern, one publisher process and one
 * consumer process each. Then the same with commits asynchronous: Missive's `commit=async`
 * (`synchronous_commit = off` for its own sessions, the insert notifying in its own statement) and
 * the raw queue doing the same (every session through the URL's `options`, `notifyInInsert`). Before them, the
 * floor of this machine: a round trip, a durable commit, a `NOTIFY` from one session to another, and
 * the transport's claim committed durably and asynchronously (the consume pool's setting).
 *
 * @module
 */
import pg from 'pg';
import { PostgresTransport } from '@missive/postgres';
import { fmtMs } from '../harness/report.js';
import { alternate, runBroker, type BrokerPlan, type Subject } from '../harness/rounds.js';
import type { Scenario } from '../harness/scenario.js';
import { percentile } from '../harness/stats.js';
import { runId } from '../harness/time.js';
import { cleanupAll } from './cleanup.js';
import { PG_URL } from './postgres.js';

function urlWith(params: Record<string, string>): string {
  const url = new URL(PG_URL);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.href;
}

const ASYNC_COMMIT = '-c synchronous_commit=off';

/** Milliseconds of `samples` runs of `once`, 2 ms apart (a moderate rate, as the scenario's). */
async function timed(samples: number, once: () => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    const started = performance.now();
    await once();
    out.push(performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return out;
}

/**
 * The machine's floor: a round trip, a durable commit, a NOTIFY delivered to another session, and
 * the transport's claim statement committed durably and asynchronously.
 */
async function floor(schema: string): Promise<string> {
  const a = new pg.Client({ connectionString: PG_URL });
  const b = new pg.Client({ connectionString: PG_URL });
  await a.connect();
  await b.connect();
  try {
    await a.query(`create schema "${schema}"`);
    await a.query(`create table "${schema}".t (id bigserial primary key, body text)`);
    const rows: [string, number[]][] = [];
    rows.push(['round trip (`select 1`)', await timed(300, async () => void (await a.query('select 1')))]);
    rows.push([
      'durable commit (an insert, `synchronous_commit = on`)',
      await timed(300, async () => void (await a.query(`insert into "${schema}".t (body) values ('x')`))),
    ]);
    await b.query('listen floor_probe');
    let arrived: () => void = () => undefined;
    b.on('notification', () => arrived());
    const notify = () =>
      timed(300, async () => {
        const got = new Promise<void>((resolve) => (arrived = resolve));
        await a.query(`select pg_notify('floor_probe', '')`);
        await got;
      });
    rows.push(['`NOTIFY` to another session (its commit durable)', await notify()]);
    // The transport's claim of one message, committed durably (as before) and asynchronously (as now).
    const transport = new PostgresTransport({ connectionString: PG_URL, schema: `${schema}_q`, poolSize: 1 });
    await transport.connect();
    try {
      await transport.declare({ name: 'q', topics: [] });
      const message = { id: 'm', type: 'floor', body: new Uint8Array([1]), headers: {} };
      const claim = async (client: pg.Client) => {
        await transport.send('q', message);
        const started = performance.now();
        const { rowCount } = await client.query(transport.sql.claim.text, ['q', Date.now(), 32, 'floor', Date.now() + 30_000]);
        const ms = performance.now() - started;
        if (rowCount !== 1) throw new Error(`the claim took ${rowCount} rows`);
        await client.query(`delete from "${schema}_q".messages`);
        return ms;
      };
      const claims = async () => {
        const out: number[] = [];
        for (let i = 0; i < 300; i++) {
          out.push(await claim(a));
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
        return out;
      };
      rows.push(["the transport's claim of one message, committed durably (before)", await claims()]);
      await a.query('set synchronous_commit = off');
      rows.push(["the transport's claim of one message, `synchronous_commit = off` (its consume pool now)", await claims()]);
    } finally {
      await transport.close().catch(() => undefined);
      await a.query(`drop schema if exists "${schema}_q" cascade`).catch(() => undefined);
    }
    rows.push(['`NOTIFY` to another session (`synchronous_commit = off`)', await notify()]);
    return [
      '| step (300 samples, 2 ms apart) | p50 ms | p90 ms | p99 ms |',
      '| --- | ---: | ---: | ---: |',
      ...rows.map(
        ([what, ms]) =>
          `| ${what} | ${fmtMs(percentile(ms, 50) * 1000)} | ${fmtMs(percentile(ms, 90) * 1000)} | ${fmtMs(percentile(ms, 99) * 1000)} |`,
      ),
    ].join('\n');
  } finally {
    await a.query(`drop schema if exists "${schema}" cascade`).catch(() => undefined);
    await a.end();
    await b.end();
  }
}

export const postgresLatency: Scenario = {
  name: 'postgres-latency',
  title: 'postgres-latency: publish → handler across processes at 200 msg/s, woken by NOTIFY',
  budgetMs: 480_000,
  facts: { packages: ['pg'] },
  async run(ctx) {
    const id = runId()
      .replace(/[^a-z0-9]/gi, '')
      .toLowerCase();
    const common = { prefetch: 32, concurrency: 16 };
    const subjects: Subject[] = [];
    for (const mode of ['', ', commits async'] as const) {
      const tag = mode === '' ? 'sync' : 'async';
      // Async: Missive's `commit=async` (its own sessions; the insert notifies), the raw queue the same by hand.
      const missive: Record<string, string> = mode === '' ? {} : { commit: 'async' };
      const raw: Record<string, string> = mode === '' ? {} : { options: ASYNC_COMMIT };
      subjects.push(
        {
          label: `Missive (postgres://)${mode}`,
          module: 'subjects/missive-bus.js',
          args: { ...common, name: `lat-${id}`, url: urlWith({ ...missive, schema: `bench_lat_m_${tag}_${id}` }) },
        },
        {
          label: `raw pg (same pattern)${mode}`,
          module: 'subjects/raw-pg.js',
          args: { ...common, name: 'queue', url: urlWith(raw), schema: `bench_lat_r_${tag}_${id}`, notifyInInsert: mode !== '' },
        },
      );
    }
    const plan: BrokerPlan = {
      consumers: 1,
      warmup: ctx.quick ? 200 : 300,
      count: ctx.quick ? 300 : 500,
      window: 32,
      latencyCount: ctx.quick ? 600 : 2_000,
      rate: 200,
      timeoutMs: 90_000,
    };
    const rounds = ctx.rounds ?? (ctx.quick ? 1 : 2);
    const missiveSchemas = subjects
      .filter((s) => s.module === 'subjects/missive-bus.js')
      .map((s) => new URL(String(s.args['url'])).searchParams.get('schema')!);
    try {
      const floorTable = await floor(`bench_lat_floor_${id}`);
      const { rows, rounds: ran } = await alternate(subjects, { rounds, deadline: ctx.deadline - 30_000, log: ctx.log }, (s, row) =>
        runBroker(s, row, plan),
      );
      const latencyRows = rows.map((row) => {
        const ms = row.latencies;
        return `| ${row.label} | ${row.error === undefined ? '' : `${row.error} `}${fmtMs(percentile(ms, 50))} | ${fmtMs(percentile(ms, 90))} | ${fmtMs(percentile(ms, 99))} | ${ms.length.toLocaleString('en-US')} |`;
      });
      return [
        'The floor on this machine, measured first (one process, two sessions):',
        '',
        floorTable,
        '',
        `${ran} rounds, alternating; per round and system one publisher process and one consumer process (prefetch ${common.prefetch}): ${plan.warmup} warm-up messages, ${plan.count} as fast as a window of ${plan.window} allows, then ${plan.latencyCount.toLocaleString('en-US')} at ${plan.rate} msg/s; latency from the publish call to the handler, across processes.`,
        '',
        '| system | p50 ms | p90 ms | p99 ms | samples |',
        '| --- | ---: | ---: | ---: | ---: |',
        ...latencyRows,
      ].join('\n');
    } finally {
      await cleanupAll(
        subjects.filter((s) => s.module !== 'subjects/missive-bus.js'),
        ctx.log,
      );
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      for (const schema of missiveSchemas) await client.query(`drop schema if exists "${schema}" cascade`).catch(() => undefined);
      await client.end();
    }
  },
};
