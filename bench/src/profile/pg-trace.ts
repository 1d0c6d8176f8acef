/**
 * Where a message's time and CPU go on PostgreSQL, Missive's transport against the raw `pg` queue
 * of the same pattern (`subjects/raw-pg.ts`), one publisher process and one consumer process each,
 * alternating in one run:
 *
 * - **Throughput phase** (`--count`, windowed by 32): CPU µs per message in each process
 *   (`process.cpuUsage()`, which the machine's load barely moves) and the statements each process
 *   runs per message, by name (round trips per message).
 * - **Latency phase** (`--latency` messages at `--rate` per second): every statement and
 *   notification is time-stamped on the machine-wide monotonic clock, so each message's path is cut
 *   into steps: publish call → insert sent, the insert and its commit, → `NOTIFY` sent, its
 *   delivery to the consumer, → claim sent, the claim, → handler.
 *
 * `--notify-ab` runs Missive alone, commits asynchronous both ways: every session through the URL's
 * `options` with the `NOTIFY` in a statement of its own, against `commit=async`.
 * `--async` also runs both with commits asynchronous: Missive with `commit=async`, the raw queue with
 * `synchronous_commit = off` for every session (through the URL) and the insert notifying.
 *
 * Run: `node bench/dist/profile/pg-trace.js [--rounds 2] [--count 3000] [--latency 1000] [--rate 200] [--async]`
 * @module
 */
import { spawnChild, type ChildHandle } from '../harness/child.js';
import { fmtMs } from '../harness/report.js';
import { percentile } from '../harness/stats.js';
import { runId, sleep } from '../harness/time.js';
import { PG_URL } from '../scenarios/postgres.js';
import type { TraceCommand, TraceReport } from './pg-trace-roles.js';

const argv = process.argv.slice(2);
const opt = (name: string, fallback: number) => {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 ? Number(argv[at + 1]) : fallback;
};
const ROUNDS = opt('rounds', 2);
const COUNT = opt('count', 3000);
const LATENCY = opt('latency', 1000);
const RATE = opt('rate', 200);
const ASYNC = argv.includes('--async');
/** Missive only, async both ways: every session through the URL (the `NOTIFY` apart) vs `commit=async` (the insert notifies). */
const NOTIFY_AB = argv.includes('--notify-ab');
const ONLY = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined;

function urlWith(params: Record<string, string>): string {
  const url = new URL(PG_URL);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.href;
}

interface TraceSubject {
  readonly label: string;
  readonly module: string;
  readonly args: Record<string, unknown>;
}

const id = runId().toLowerCase();
const common = { prefetch: 32, concurrency: 16 };
const subjects: TraceSubject[] = [];
if (NOTIFY_AB)
  for (const [label, params] of [
    ['Missive, sessions async (URL options), NOTIFY apart', { options: '-c synchronous_commit=off' }],
    ['Missive, commit=async (insert notifies)', { commit: 'async' }],
  ] as const)
    subjects.push({
      label,
      module: 'subjects/missive-bus.js',
      args: { ...common, name: `trace-${id}`, url: urlWith({ ...params, schema: `bench_trace_ab_${subjects.length}_${id}` }) },
    });
for (const mode of NOTIFY_AB ? [] : ASYNC ? ['sync', 'async'] : ['sync']) {
  // Async: Missive's `commit=async` (its own sessions; the insert notifies), the raw queue the same by hand.
  const missive: Record<string, string> = mode === 'async' ? { commit: 'async' } : {};
  const raw: Record<string, string> = mode === 'async' ? { options: '-c synchronous_commit=off' } : {};
  const tag = mode === 'async' ? ', commits async' : '';
  subjects.push(
    {
      label: `Missive${tag}`,
      module: 'subjects/missive-bus.js',
      args: { ...common, name: `trace-${id}`, url: urlWith({ ...missive, schema: `bench_trace_m_${mode}_${id}` }) },
    },
    {
      label: `raw pg${tag}`,
      module: 'subjects/raw-pg.js',
      args: { ...common, name: 'queue', url: urlWith(raw), schema: `bench_trace_r_${mode}_${id}`, notifyInInsert: mode === 'async' },
    },
  );
}

interface Run {
  readonly msgPerS: number;
  readonly publisher: TraceReport;
  readonly consumer: TraceReport;
}

async function once(subject: TraceSubject, round: number): Promise<Run> {
  const role = { subject: subject.module, args: subject.args };
  const consumer: ChildHandle<TraceReport> = spawnChild('profile/pg-trace-roles.js', 'traceConsumer', role, { timeoutMs: 300_000 });
  await consumer.next('ready', 60_000);
  const publisher: ChildHandle<TraceReport> = spawnChild('profile/pg-trace-roles.js', 'tracePublisher', role, { timeoutMs: 300_000 });
  await publisher.next('ready', 60_000);
  const base = round * 1_000_000;
  const command = async (c: TraceCommand) => {
    publisher.send('publish', c);
    await publisher.next('published', 300_000);
  };
  await command({ mode: 'window', count: 300, first: base, record: 'none' });
  consumer.send('tCount', COUNT);
  const started = performance.now();
  await command({ mode: 'window', count: COUNT, first: base + 1000, record: 'count' });
  await consumer.next('counted', 300_000);
  const msgPerS = COUNT / ((performance.now() - started) / 1000);
  consumer.send('record');
  await sleep(200);
  await command({ mode: 'paced', count: LATENCY, rate: RATE, first: base + 100_000 });
  for (;;) {
    const p = consumer.latest('progress') as { l: number } | undefined;
    if (p !== undefined && p.l >= LATENCY) break;
    await sleep(50);
  }
  publisher.send('publish', { mode: 'stop' });
  consumer.send('stop');
  const [c, p] = await Promise.all([consumer.done, publisher.done]);
  return { msgPerS, publisher: p.result, consumer: c.result };
}

const STEPS = [
  'publish call → insert sent',
  'insert + commit',
  'commit → NOTIFY sent',
  'NOTIFY statement round trip',
  'NOTIFY sent → received',
  'insert sent → received (insert notifies)',
  'received → claim sent',
  'claim round trip',
  'claim returned → handler',
  'total (publish call → handler)',
] as const;

/** Cuts each traced message's path into {@link STEPS} (µs); messages without a full trace are left out. */
function steps(run: Run): { samples: Map<string, number[]>; claimsPerMessage: number; emptyClaims: number; notifies: number } {
  const samples = new Map<string, number[]>(STEPS.map((s) => [s, []]));
  const inserts = new Map<string, { t0: number; t1: number }>();
  // A statement that carries message ids is an insert, even one that notifies in itself (commits async).
  const notifies = run.publisher.statements.filter((s) => s.what.includes('notify') && s.ids.length === 0).sort((a, b) => a.t0 - b.t0);
  const notifying = new Set<{ t0: number; t1: number }>();
  for (const s of run.publisher.statements)
    if (s.ids.length > 0) {
      if (s.what.includes('notify')) notifying.add(s);
      for (const id of s.ids) inserts.set(id, s);
    }
  const claims = run.consumer.statements.filter((s) => s.what.includes('claim'));
  const claimOf = new Map<string, { t0: number; t1: number }>();
  for (const s of claims) for (const id of s.ids) claimOf.set(id, s);
  const received = [...run.consumer.notifications].sort((a, b) => a - b);
  const firstAtOrAfter = <T>(list: T[], t: number, at: (x: T) => number) => list.find((x) => at(x) >= t);
  for (const [orderId, handler, sentAt] of run.consumer.handled) {
    const ins = inserts.get(orderId);
    const claim = claimOf.get(orderId);
    if (ins === undefined || claim === undefined || Number.isNaN(ins.t1) || Number.isNaN(claim.t1)) continue;
    const inInsert = notifying.has(ins);
    const notify = inInsert ? undefined : firstAtOrAfter(notifies, ins.t1, (n) => n.t0);
    const got = inInsert
      ? firstAtOrAfter(received, ins.t0, (n) => n)
      : notify === undefined
        ? undefined
        : firstAtOrAfter(received, notify.t0, (n) => n);
    const add = (step: (typeof STEPS)[number], us: number | undefined) => {
      if (us !== undefined && !Number.isNaN(us)) samples.get(step)!.push(us);
    };
    add('publish call → insert sent', ins.t0 - sentAt);
    add('insert + commit', ins.t1 - ins.t0);
    add('commit → NOTIFY sent', notify === undefined ? undefined : notify.t0 - ins.t1);
    add('NOTIFY statement round trip', notify === undefined ? undefined : notify.t1 - notify.t0);
    add('NOTIFY sent → received', notify === undefined || got === undefined ? undefined : got - notify.t0);
    add('insert sent → received (insert notifies)', inInsert && got !== undefined ? got - ins.t0 : undefined);
    add('received → claim sent', got === undefined ? undefined : claim.t0 - got);
    add('claim round trip', claim.t1 - claim.t0);
    add('claim returned → handler', handler - claim.t1);
    add('total (publish call → handler)', handler - sentAt);
  }
  const n = run.consumer.handled.length;
  return {
    samples,
    claimsPerMessage: claims.length / n,
    emptyClaims: claims.filter((c) => c.rows === 0).length / n,
    notifies: notifies.length / n,
  };
}

/** µs per message of each round, e.g. "412, 398". */
function us(list: Run[], of: (run: Run) => number): string {
  return list.map((x) => (of(x) / COUNT).toFixed(0)).join(', ');
}

function perMessage(counts: Record<string, number>): string {
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([what, n]) => `${what} ${(n / COUNT).toFixed(3)}`)
    .join(', ');
}

async function main(): Promise<void> {
  const runs = new Map<string, Run[]>(subjects.map((s) => [s.label, []]));
  const chosen = ONLY === undefined ? subjects : subjects.filter((s) => s.label.startsWith(ONLY));
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < chosen.length; k++) {
      const s = chosen[(k + round) % chosen.length]!;
      const run = await once(s, round);
      runs.get(s.label)!.push(run);
      console.error(
        `round ${round + 1} ${s.label}: ${run.msgPerS.toFixed(0)} msg/s; CPU µs/msg publisher ${(run.publisher.cpuUs / COUNT).toFixed(0)} (+ server ${(run.publisher.serverCpuUs / COUNT).toFixed(0)}), consumer ${(run.consumer.cpuUs / COUNT).toFixed(0)} (+ server ${(run.consumer.serverCpuUs / COUNT).toFixed(0)})`,
      );
    }
  }
  const out: string[] = [];
  out.push(`Throughput phase: ${COUNT} messages, window 32, prefetch 32, concurrency 16; ${ROUNDS} rounds alternating.`, '');
  out.push(
    '| system | msg/s per round | publisher CPU µs/msg | its PostgreSQL backends | consumer CPU µs/msg | its PostgreSQL backends | publisher statements/msg | consumer statements/msg |',
  );
  out.push('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const [label, list] of runs) {
    if (list.length === 0) continue;
    const r = list[list.length - 1]!;
    out.push(
      `| ${label} | ${list.map((x) => x.msgPerS.toFixed(0)).join(', ')} | ${us(list, (x) => x.publisher.cpuUs)} | ${us(list, (x) => x.publisher.serverCpuUs)} | ${us(list, (x) => x.consumer.cpuUs)} | ${us(list, (x) => x.consumer.serverCpuUs)} | ${perMessage(r.publisher.counts)} | ${perMessage(r.consumer.counts)} |`,
    );
  }
  out.push('', `Latency phase: ${LATENCY} messages at ${RATE}/s; p50 (p90) ms of each step, all rounds pooled.`, '');
  const labels = [...runs.keys()].filter((l) => runs.get(l)!.length > 0);
  out.push(`| step | ${labels.join(' | ')} |`, `| --- | ${labels.map(() => '---:').join(' | ')} |`);
  const cut = new Map(labels.map((l) => [l, runs.get(l)!.map(steps)]));
  for (const step of STEPS) {
    const cells = labels.map((l) => {
      const all = cut.get(l)!.flatMap((c) => c.samples.get(step)!);
      return `${fmtMs(percentile(all, 50))} (${fmtMs(percentile(all, 90))})`;
    });
    out.push(`| ${step} | ${cells.join(' | ')} |`);
  }
  for (const [what, key] of [
    ['claims per message', 'claimsPerMessage'],
    ['empty claims per message', 'emptyClaims'],
    ['NOTIFY statements per message', 'notifies'],
  ] as const)
    out.push(
      `| ${what} | ${labels
        .map((l) =>
          cut
            .get(l)!
            .map((c) => c[key].toFixed(2))
            .join(', '),
        )
        .join(' | ')} |`,
    );
  console.log(out.join('\n'));
  const { cleanup: rawCleanup } = (await import('../subjects/raw-pg.js')) as { cleanup: (a: unknown) => Promise<void> };
  const { cleanup: missiveCleanup } = (await import('../subjects/missive-bus.js')) as { cleanup: (a: unknown) => Promise<void> };
  for (const s of subjects) await (s.module.includes('raw') ? rawCleanup : missiveCleanup)(s.args).catch(() => undefined);
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  for (const s of subjects) {
    const schema = s.module.includes('raw') ? String(s.args['schema']) : new URL(String(s.args['url'])).searchParams.get('schema')!;
    await client.query(`drop schema if exists "${schema}" cascade`).catch(() => undefined);
  }
  await client.end();
}

await main();
