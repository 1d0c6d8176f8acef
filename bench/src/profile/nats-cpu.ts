/**
 * Missive on NATS against the raw JetStream pattern, side by side: alternating rounds (A B B A …),
 * each a fresh consumer process and a fresh publisher process running at the same time, as in the
 * `nats` scenario. Over the throughput phase only it gives msg/s and each process's CPU µs per
 * message (`process.cpuUsage()`), nats-server's too (from `/proc/<pid>/stat` when `NATS_PID` is
 * set; a shared server, so others' work counts), and with `--prof <dir>` a CPU profile of each
 * process over that phase alone (the inspector, started and stopped around it), for
 * `summarize.js`. At the end: each side's per-round ratios and their medians, and the load average.
 *
 * ```sh
 * node bench/dist/profile/nats-cpu.js --rounds 4 --count 20000 missive raw
 * node bench/dist/profile/nats-cpu.js --rounds 2 --prof /tmp/nats-prof missive raw base=<other @missive/nats build>/index.js
 * node bench/dist/profile/nats-cpu.js --rounds 6 --count 20000 missive 'batch?batch=64' raw   # the transport's batch messages
 * ```
 * A subject is `missive` (the bus), `raw`, `raw:structured` / `raw:binary` (the raw pattern publishing
 * each order in that form of Missive's envelope, see `raw-nats.ts`), `raw:lanes` (the raw pattern on a stream laid out as
 * Missive's, a filtered consumer and an idle direct lane beside it; `raw:wild` without the idle lane), `transport` (`@missive/nats`'s transport alone, no bus),
 * `label=path` (with the `index.js` of another build of `@missive/nats`; the transport alone if
 * `label` starts with `transport`), either with `?<URL parameters>` added to the transport URL
 * (`structured?contentMode=structured`), or `label@dir` (the bus of another built checkout at `dir`, its
 * own core and transport, its processes started from its own copy of this script, so that no
 * module is loaded twice: `base@/tmp/nats-base`).
 * @module
 */
import { fork, type ChildProcess } from 'node:child_process';
import { Socket } from 'node:net';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadavg } from 'node:os';
import { connect } from 'nats';
import { fileURLToPath } from 'node:url';
import { NATS_URL } from '../harness/machine.js';
import { loadSubject, publishWindowed } from '../harness/roles.js';
import type { SubjectArgs } from '../harness/subject.js';
import { spread } from '../harness/stats.js';

const median = (xs: readonly number[]) => spread(xs).median;

interface Plan {
  readonly label: string;
  readonly module: string;
  readonly args: SubjectArgs;
  /** The script the plan's processes run (another checkout's build of this file); default this one. */
  readonly script?: string;
}

interface Role {
  readonly role: 'consumer' | 'publisher' | 'declare';
  readonly trace: boolean;
  /** Each side alone: the publisher fills the queue, then the consumer drains it. */
  readonly split: boolean;
  readonly plan: Plan;
  readonly count: number;
  readonly warmup: number;
  readonly prof?: string;
}

const cpuNow = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** Starts the inspector's profiler; the function stops it and writes the profile to `file`. */
async function profile(file: string | undefined): Promise<() => Promise<void>> {
  if (file === undefined) return async () => undefined;
  const session = new Session();
  session.connect();
  if (process.env.NATS_CPU_HEAP === '1') {
    // Allocations instead of time: every sampled allocation, collected or not (`.heapprofile`).
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: 4096,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    } as never);
    return async () => {
      const { profile: p } = await session.post('HeapProfiler.stopSampling');
      writeFileSync(file.replace(/\.cpuprofile$/, '.heapprofile'), JSON.stringify(p));
      session.disconnect();
    };
  }
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  return async () => {
    const { profile: p } = await session.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(p));
    session.disconnect();
  };
}

/** What the process wrote to its sockets: writes, bytes, and protocol lines by kind; reads; context switches (at the end). */
const wrote = { writes: 0, bytes: 0, pulls: 0, acks: 0, wpis: 0, pubs: 0, reads: 0, switches: 0, gcUs: 0, scavenges: 0, marks: 0 };

/** This process's context switches so far (voluntary and not), from `/proc/self/status`. */
function switches(): number {
  const status = readFileSync('/proc/self/status', 'utf8');
  let n = 0;
  for (const m of status.matchAll(/ctxt_switches:\s+(\d+)/g)) n += Number(m[1]);
  return n;
}

/** Counts socket writes and garbage collections (`--trace`; the scan costs CPU, so CPU figures of a traced run are not comparable). */
function traceWrites(): void {
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      wrote.gcUs += entry.duration * 1000;
      const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) wrote.scavenges++;
      else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) wrote.marks++;
    }
  }).observe({ entryTypes: ['gc'] });
  const proto = Socket.prototype as unknown as Record<'write' | 'push', (this: Socket, ...args: unknown[]) => boolean>;
  const write = proto.write;
  const count = (text: string, what: string) => text.split(what).length - 1;
  proto.write = function (this: Socket, ...args: unknown[]): boolean {
    const chunk = args[0];
    if (chunk instanceof Uint8Array) {
      wrote.writes++;
      wrote.bytes += chunk.length;
      const text = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length).toString('latin1');
      wrote.pulls += count(text, 'MSG.NEXT');
      wrote.acks += count(text, '+ACK');
      wrote.wpis += count(text, '+WPI');
      wrote.pubs += count(text, 'PUB ');
    }
    return write.apply(this, args);
  };
  const push = proto.push;
  proto.push = function (this: Socket, ...args: unknown[]): boolean {
    if (args[0] !== null) wrote.reads++;
    return push.apply(this, args);
  };
}

/** A child: one side of one round, stepped by the parent over IPC. */
async function child(role: Role): Promise<void> {
  if (role.trace) traceWrites();
  const send = (type: string, data: unknown = {}) => process.send!({ type, data });
  const next = (type: string) =>
    new Promise<unknown>((resolve) => {
      const on = (m: { type: string; data: unknown }) => {
        if (m.type !== type) return;
        process.off('message', on);
        resolve(m.data);
      };
      process.on('message', on);
    });
  const mod = await loadSubject(role.plan.module);
  if (role.role === 'declare') {
    await (await mod.createConsumer!(role.plan.args, () => undefined)).close();
  } else if (role.role === 'consumer') {
    let warm = 0;
    let handled = 0;
    let warmed!: () => void;
    let finished!: () => void;
    const warmDone = new Promise<void>((r) => (warmed = r));
    const done = new Promise<void>((r) => (finished = r));
    const sub = await mod.createConsumer!(role.plan.args, (order) => {
      if (order.phase === 'w' && ++warm === role.warmup) warmed();
      if (order.phase === 't' && ++handled === role.count) finished();
    });
    send('ready');
    await warmDone;
    const t0 = performance.now() + performance.timeOrigin;
    if (!role.split) {
      send('warm');
      await next('go');
    }
    const stop = await profile(role.prof);
    const c0 = cpuNow();
    const w0 = { ...wrote, switches: switches() };
    if (!role.split) send('going');
    await done;
    const c1 = cpuNow();
    const t1 = performance.now() + performance.timeOrigin;
    await stop();
    send('result', { cpuUs: c1 - c0, startMs: t0, endMs: t1, wrote: delta(w0) });
    await sub.close();
  } else {
    const publisher = await mod.createPublisher!(role.plan.args);
    send('ready');
    await next('warm');
    await publishWindowed(publisher, role.warmup, 100, 'w');
    if (!role.split) await next('go');
    const stop = await profile(role.prof);
    const t0 = performance.now() + performance.timeOrigin;
    const c0 = cpuNow();
    const w0 = { ...wrote, switches: switches() };
    await publishWindowed(publisher, role.count, 100, 't', role.warmup);
    const c1 = cpuNow();
    const t1 = performance.now() + performance.timeOrigin;
    await stop();
    send('result', { cpuUs: c1 - c0, startMs: t0, endMs: t1, wrote: delta(w0) });
    await publisher.close();
  }
  process.exit(0);
}

function delta(before: typeof wrote): typeof wrote {
  const d = { ...wrote, switches: switches() };
  for (const k of Object.keys(d) as (keyof typeof wrote)[]) d[k] -= before[k];
  return d;
}

/** nats-server's CPU time so far, µs (utime + stime, ticks of 10 ms), NaN without `NATS_PID`. */
function serverCpuUs(): number {
  const pid = process.env.NATS_PID;
  if (pid === undefined || pid === '') return Number.NaN;
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** Deletes the streams Missive made in this run (`PC<i><id>_…`, and its key-value buckets'). */
async function removeStreams(prefix: string, id: string): Promise<void> {
  const nc = await connect({ servers: new URL(NATS_URL).host });
  try {
    const jsm = await nc.jetstreamManager();
    const mine = new RegExp(`^(KV_)?${prefix}\\d+${id.toUpperCase()}_`);
    for await (const info of jsm.streams.list()) if (mine.test(info.config.name)) await jsm.streams.delete(info.config.name);
  } finally {
    await nc.close();
  }
}

interface Round {
  msgPerS: number;
  /** The publisher's own rate: its messages over the time until the last was confirmed. */
  publishedPerS: number;
  consumerUs: number;
  publisherUs: number;
  serverUs: number;
}

async function parent(argv: string[]): Promise<void> {
  const opt = (name: string, fallback: number) => {
    const at = argv.indexOf(name);
    if (at < 0) return fallback;
    const v = Number(argv.splice(at, 2)[1]);
    return v;
  };
  const profAt = argv.indexOf('--prof');
  const profDir = profAt >= 0 ? argv.splice(profAt, 2)[1] : undefined;
  const traceAt = argv.indexOf('--trace');
  const trace = traceAt >= 0;
  if (trace) argv.splice(traceAt, 1);
  const splitAt = argv.indexOf('--split');
  const split = splitAt >= 0;
  if (split) argv.splice(splitAt, 1);
  const rounds = opt('--rounds', 4);
  const count = opt('--count', 20_000);
  const warmup = opt('--warmup', 2_000);
  const id = Date.now().toString(36);
  const plans: Plan[] = (argv.length > 0 ? argv : ['missive', 'raw']).map((s, i) => {
    const common = { prefetch: 32, concurrency: 16 };
    if (s === 'raw') return { label: 'raw', module: 'subjects/raw-nats.js', args: { ...common, name: `raw-${id}`, prefix: `pr${id}` } };
    if (s === 'raw:lanes' || s === 'raw:wild')
      return {
        label: s,
        module: 'subjects/raw-nats.js',
        args: { ...common, name: `${s.replace(':', '-')}-${id}`, prefix: `prl${i}${id}`, topology: s.slice(4) },
      };
    if (s.startsWith('raw:')) {
      const form = s.slice(4);
      return {
        label: s,
        module: 'subjects/raw-nats.js',
        args: { ...common, name: `raw-${form}-${id}`, prefix: `pr${form}${i}${id}`, form },
      };
    }
    if (s.includes('@')) {
      const [label, dir] = s.split('@') as [string, string];
      return {
        label,
        module: label.startsWith('transport') ? 'subjects/missive-nats-transport.js' : 'subjects/missive-bus.js',
        script: `${dir}/bench/dist/profile/nats-cpu.js`,
        args: { ...common, name: `pc-${label}-${id}`, url: `${NATS_URL}?prefix=pc${i}${id}` },
      };
    }
    const [named, query] = s.includes('?') ? (s.split('?') as [string, string]) : [s, undefined];
    const [label, path] = named.includes('=') ? (named.split('=') as [string, string]) : [named, undefined];
    return {
      label,
      module: label.startsWith('transport') ? 'subjects/missive-nats-transport.js' : 'subjects/missive-bus.js',
      args: {
        ...common,
        name: `pc-${label}-${id}`,
        url: `${NATS_URL}?prefix=pc${i}${id}${query === undefined ? '' : `&${query}`}`,
        ...(path === undefined ? {} : { transportModule: path }),
      },
    };
  });
  const self = fileURLToPath(import.meta.url);
  const results = new Map<string, Round[]>(plans.map((p) => [p.label, []]));
  const loads: number[] = [loadavg()[0]!];
  const order: Plan[] = [];
  for (let r = 0; r < rounds; r++) order.push(...(r % 2 === 0 ? plans : [...plans].reverse()));
  for (const [n, plan] of order.entries()) {
    const round = Math.floor(n / plans.length);
    const spawn = (role: Role['role']): { c: ChildProcess; exited: Promise<unknown>; next: (t: string) => Promise<unknown> } => {
      const prof = profDir === undefined ? undefined : `${profDir}/${plan.label}/${role}`;
      if (prof !== undefined) mkdirSync(prof, { recursive: true });
      const c = fork(plan.script ?? self, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const exited = new Promise((resolve) => c.once('exit', resolve));
      const inbox: { type: string; data: unknown }[] = [];
      const waiters: { type: string; resolve: (d: unknown) => void }[] = [];
      c.on('message', (m: { type: string; data: unknown }) => {
        const w = waiters.findIndex((x) => x.type === m.type);
        if (w >= 0) waiters.splice(w, 1)[0]!.resolve(m.data);
        else inbox.push(m);
      });
      const data: Role = {
        role,
        trace,
        split,
        plan,
        count,
        warmup,
        ...(prof === undefined ? {} : { prof: `${prof}/round${round}.cpuprofile` }),
      };
      c.send({ type: 'start', data });
      return {
        c,
        exited,
        next: (type) => {
          const i = inbox.findIndex((m) => m.type === type);
          if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0]!.data);
          return new Promise((resolve) => waiters.push({ type, resolve }));
        },
      };
    };
    type Result = { cpuUs: number; startMs: number; endMs: number; wrote: typeof wrote };
    let cr: Result;
    let pr: Result;
    let s0: number;
    let s1: number;
    let consumer: ReturnType<typeof spawn>;
    let publisher: ReturnType<typeof spawn>;
    if (split) {
      if (round === 0) {
        await spawn('declare').exited;
        await new Promise((r) => setTimeout(r, 6_000)); // its pull requests expire at the server
      }
      publisher = spawn('publisher');
      await publisher.next('ready');
      publisher.c.send({ type: 'warm', data: {} });
      s0 = serverCpuUs();
      pr = (await publisher.next('result')) as Result;
      const sMid = serverCpuUs();
      consumer = spawn('consumer');
      await consumer.next('ready');
      const sC = serverCpuUs();
      cr = (await consumer.next('result')) as Result;
      s1 = serverCpuUs() - sC + sMid;
    } else {
      consumer = spawn('consumer');
      await consumer.next('ready');
      publisher = spawn('publisher');
      await publisher.next('ready');
      publisher.c.send({ type: 'warm', data: {} });
      await consumer.next('warm');
      consumer.c.send({ type: 'go', data: {} });
      await consumer.next('going');
      s0 = serverCpuUs();
      publisher.c.send({ type: 'go', data: {} });
      [cr, pr] = (await Promise.all([consumer.next('result'), publisher.next('result')])) as [Result, Result];
      s1 = serverCpuUs();
    }
    if (trace) {
      const per = (w: typeof wrote) =>
        Object.entries(w)
          .map(([k, v]) => `${k} ${(v / count).toFixed(3)}`)
          .join(', ');
      console.error(`  ${plan.label} per message: consumer wrote ${per(cr.wrote)}; publisher wrote ${per(pr.wrote)}`);
    }
    const row: Round = {
      msgPerS: count / ((cr.endMs - (split ? cr.startMs : pr.startMs)) / 1000),
      publishedPerS: count / ((pr.endMs - pr.startMs) / 1000),
      consumerUs: cr.cpuUs / count,
      publisherUs: pr.cpuUs / count,
      serverUs: (s1 - s0) / count,
    };
    results.get(plan.label)!.push(row);
    loads.push(loadavg()[0]!);
    console.error(
      `round ${round + 1} ${plan.label}: ${Math.round(row.msgPerS)} msg/s (published ${Math.round(row.publishedPerS)}/s), CPU µs/msg consumer ${row.consumerUs.toFixed(2)}, publisher ${row.publisherUs.toFixed(2)}, server ${row.serverUs.toFixed(2)} (load ${loadavg()[0]!.toFixed(1)})`,
    );
    await Promise.all([consumer.exited, publisher.exited]);
  }
  for (const plan of plans) {
    await (await loadSubject(plan.module)).cleanup?.(plan.args).catch(() => undefined);
  }
  await removeStreams(`PC`, id).catch((error: unknown) => console.error(`removing the run's streams failed: ${(error as Error).message}`));
  const fmt = (xs: number[], digits = 2) =>
    `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;
  console.log(
    `\n${rounds} rounds of ${count} messages (after ${warmup} warm-up), alternating; load average ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}\n`,
  );
  console.log('| system | msg/s | consumer CPU µs/msg | publisher CPU µs/msg | nats-server CPU µs/msg |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const plan of plans) {
    const rs = results.get(plan.label)!;
    console.log(
      `| ${plan.label} | ${fmt(
        rs.map((r) => r.msgPerS),
        0,
      )} | ${fmt(rs.map((r) => r.consumerUs))} | ${fmt(rs.map((r) => r.publisherUs))} | ${fmt(rs.map((r) => r.serverUs))} |`,
    );
  }
  const base = results.get(plans[plans.length - 1]!.label)!;
  for (const plan of plans.slice(0, -1)) {
    const rs = results.get(plan.label)!;
    const ratio = (f: (r: Round) => number) => rs.map((r, i) => f(r) / f(base[i]!));
    console.log(
      `\n${plan.label} ÷ ${plans[plans.length - 1]!.label}, per round: msg/s ${ratio((r) => r.msgPerS)
        .map((x) => x.toFixed(2))
        .join(
          ', ',
        )} (median ${median(ratio((r) => r.msgPerS)).toFixed(2)}); CPU consumer ${median(ratio((r) => r.consumerUs)).toFixed(2)}, publisher ${median(
        ratio((r) => r.publisherUs),
      ).toFixed(2)}`,
    );
  }
  process.exit(0);
}

if (process.send === undefined) {
  await parent(process.argv.slice(2));
} else {
  process.once('message', (m: { type: string; data: Role }) => {
    void child(m.data).catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
  });
}
