/**
 * What the message journal costs a bus: the same workload without and with the journal, in
 * alternating rounds in one process (off, on, then on, off, …), each round a fresh bus. Two paths:
 *
 * - **memory**: the memory transport and a handler that does nothing. The bus's own work per
 *   message is the smallest it gets (a few µs), so the journal's share is the largest: the worst
 *   case.
 * - **sqlite**: the SQLite transport (`sqlite://` file, its defaults) and the same empty handler:
 *   a message is published, stored, fetched, leased and acked, which is what a service's handler
 *   pays on a durable transport.
 *
 * Each round publishes `count` messages with at most 100 unconfirmed, waits until all are handled
 * and, with the journal, until its last batch is written (every row, counted afterwards). It
 * reads the **bus thread's CPU time** (the main thread's, without the journal's worker thread:
 * `harness/thread-cpu.ts`), the whole process's CPU time, and the wall time (throughput).
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createBus, defineEvent, MemoryBroker, silentLogger, type Bus } from '@missive/core';
import { defaultKeyFields, entryOf, journal, packBatch, SqliteJournalStore, type Journal, type JournalStore } from '@missive/dashboard';
import { MessageChannel } from 'node:worker_threads';
import type { HandledEvent } from '@missive/core';
import { z } from 'zod';
import { latencySummary, spread } from '../harness/stats.js';
import { mainThreadCpuUs, processCpuUs } from '../harness/thread-cpu.js';

const Tick = defineEvent('bench.tick', z.object({ orderId: z.string(), n: z.number() }));

export type OverheadPath = 'memory' | 'sqlite';

/** One measured round. */
export interface OverheadRound {
  /** µs of CPU per message: the bus (main) thread, and the whole process (the journal's worker included). */
  readonly busUs: number;
  readonly processUs: number;
  readonly perSecond: number;
  /** Rows the journal wrote for the round's messages (0 without the journal). */
  readonly rows: number;
  /** Rows per batch the journal handed its store during the measured messages (0 without the journal). */
  readonly rowsPerBatch: number;
}

function busOf(path: OverheadPath, dir: string): Bus {
  const transport = path === 'memory' ? new MemoryBroker().transport() : `sqlite://${join(dir, `bus-${randomUUID()}.db`)}`;
  return createBus({ service: 'bench', transport, logger: silentLogger });
}

/**
 * Without the journal; with it (SQLite file, worker thread: the default); with it and a store that
 * discards (no worker: the bus thread's part alone); or only an empty `handled` listener (core's
 * part alone: the event built and emitted); or only an empty `observeHandled` observer (core's part
 * as the journal uses it: the fields passed, no event object).
 */
export type JournalMode = 'off' | 'on' | 'discard' | 'listener' | 'observer';

/** A store that keeps nothing: the journal's bus-thread work without a worker thread beside it. */
const discarding: JournalStore = {
  append: () => Promise.resolve(),
  appendPacked: () => Promise.resolve(),
  conversation: () => Promise.resolve([]),
  recent: () => Promise.resolve([]),
  prune: () => Promise.resolve(0),
  count: () => Promise.resolve(0),
  close: () => Promise.resolve(),
};

/** Options of a round: its warm-up, and hooks called right before and right after the measured messages (the callgrind driver zeroes and dumps its counts there). */
export interface RoundOptions {
  /** Messages before the measured ones. Default: a quarter of `count`, at most 5,000. */
  readonly warmUp?: number;
  readonly start?: () => void;
  readonly end?: () => void;
  /** Where the journal's SQLite file goes (mode `on`). Default: `dir`, beside the transport's file. */
  readonly journalDir?: string;
  /** The store of mode `discard` instead of the one that discards (a profile's variant: a worker that answers at once, …). */
  readonly store?: JournalStore;
}

export async function overheadRound(
  path: OverheadPath,
  mode: JournalMode,
  count: number,
  dir: string,
  options: RoundOptions = {},
): Promise<OverheadRound> {
  const bus = busOf(path, dir);
  let handled = 0;
  let target = 0;
  let wake: (() => void) | undefined;
  bus.endpoint('bench', (e) =>
    e.on(Tick, () => {
      if (++handled >= target) wake?.();
    }),
  );
  const file = join(options.journalDir ?? dir, `journal-${randomUUID()}.db`);
  const j: Journal | undefined =
    mode === 'off' || mode === 'listener' || mode === 'observer'
      ? undefined
      : journal(bus, { store: mode === 'on' ? `sqlite://${file}` : (options.store ?? discarding) });
  if (mode === 'listener') bus.on('handled', () => undefined);
  if (mode === 'observer') bus.observeHandled(() => undefined);
  await bus.start();
  const run = async (n: number): Promise<void> => {
    target = handled + n;
    const done = new Promise<void>((resolve) => (wake = resolve));
    let window: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) {
      window.push(bus.publish(Tick, { orderId: `o-${i}`, n: i }));
      if (window.length === 100) {
        await Promise.all(window);
        window = [];
      }
    }
    await Promise.all(window);
    if (handled < target) await done;
    await j?.flush();
  };
  const warmUp = options.warmUp ?? Math.min(5_000, Math.ceil(count / 4));
  await run(warmUp);
  options.start?.();
  const bus0 = mainThreadCpuUs();
  const process0 = processCpuUs();
  const written0 = j?.written ?? 0;
  const batches0 = j?.batches ?? 0;
  const started = performance.now();
  await run(count);
  const seconds = (performance.now() - started) / 1000;
  const busUs = (mainThreadCpuUs() - bus0) / count;
  const processUs = (processCpuUs() - process0) / count;
  const batchesWritten = (j?.batches ?? 0) - batches0;
  const rowsPerBatch = batchesWritten > 0 ? ((j?.written ?? 0) - written0) / batchesWritten : 0;
  options.end?.();
  await bus.stop();
  let rows = 0;
  if (mode === 'on') {
    const reader = new SqliteJournalStore({ path: file });
    rows = (await reader.count()) - warmUp;
    await reader.close();
  }
  return { busUs, processUs, perSecond: count / seconds, rows, rowsPerBatch };
}

/** Rounds of one path, alternating the modes (in the given order in even rounds, reversed in odd ones). */
export async function overheadRounds(
  path: OverheadPath,
  count: number,
  rounds: number,
  dir: string,
  deadline: number,
  log: (line: string) => void,
  modes: readonly JournalMode[] = ['off', 'on'],
): Promise<Record<JournalMode, OverheadRound[]>> {
  const results: Record<JournalMode, OverheadRound[]> = { off: [], on: [], discard: [], listener: [], observer: [] };
  for (let r = 0; r < rounds && (r < 2 || Date.now() < deadline); r++) {
    log(`  ${path} round ${r + 1}/${rounds}`);
    for (const mode of r % 2 === 0 ? modes : [...modes].reverse()) results[mode].push(await overheadRound(path, mode, count, dir));
  }
  return results;
}

/** A fixed-rate run on the memory transport with the journal: is every row written at `rate`/s? */
export interface IngestRun {
  readonly offered: number;
  readonly perSecond: number;
  readonly rows: number;
  readonly p50Us: number;
  readonly p99Us: number;
  /** Share of one core: the bus thread, and the rest of the process (mostly the journal's worker). */
  readonly busShare: number;
  readonly otherShare: number;
}

/** `total` messages at `rate`/s (a batch every 10 ms) through a memory bus with the journal; send→handled latency. */
export async function ingestRun(rate: number, total: number, dir: string): Promise<IngestRun> {
  const bus = busOf('memory', dir);
  const latencies: number[] = [];
  let handled = 0;
  let wake: (() => void) | undefined;
  const TimedTick = defineEvent('bench.timed-tick', z.object({ orderId: z.string(), sentAt: z.number() }));
  bus.endpoint('bench', (e) =>
    e.on(TimedTick, (t) => {
      latencies.push((performance.now() - t.sentAt) * 1000);
      if (++handled >= total) wake?.();
    }),
  );
  const file = join(dir, `journal-${randomUUID()}.db`);
  const j = journal(bus, { store: `sqlite://${file}` });
  await bus.start();
  const done = new Promise<void>((resolve) => (wake = resolve));
  const bus0 = mainThreadCpuUs();
  const process0 = processCpuUs();
  const t0 = performance.now();
  const perTick = rate / 100;
  for (let sent = 0, tick = 0; sent < total; tick++) {
    const wait = t0 + tick * 10 - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const batch: Promise<void>[] = [];
    for (let k = 0; k < perTick && sent < total; k++, sent++)
      batch.push(bus.publish(TimedTick, { orderId: `r-${sent}`, sentAt: performance.now() }));
    await Promise.all(batch);
  }
  if (handled < total) await done;
  await j.flush();
  const elapsedUs = (performance.now() - t0) * 1000;
  const busShare = (mainThreadCpuUs() - bus0) / elapsedUs;
  const otherShare = (processCpuUs() - process0) / elapsedUs - busShare;
  await bus.stop();
  const reader = new SqliteJournalStore({ path: file });
  const rows = await reader.count();
  await reader.close();
  const summary = latencySummary(latencies);
  return { offered: rate, perSecond: total / (elapsedUs / 1e6), rows, p50Us: summary.p50, p99Us: summary.p99, busShare, otherShare };
}

/**
 * The journal's own work on the bus thread per message, µs, alone: `n` real `handled` events
 * (captured from a memory bus) turned into what the worker receives and posted to a message port,
 * the old way (a row object per message, `entryOf`, cloned) and the new one (`packBatch`: three
 * flat arrays per batch of 1,000), in alternating rounds; plus the listener's part (two pushes).
 */
export async function journalWorkUs(n: number, rounds: number): Promise<{ readonly rowsUs: number[]; readonly packedUs: number[] }> {
  const bus = busOf('memory', '');
  const events: HandledEvent[] = [];
  let wake: (() => void) | undefined;
  bus.on('handled', (event) => {
    events.push(event);
    if (events.length === n) wake?.();
  });
  bus.endpoint('bench', (e) => e.on(Tick, () => undefined));
  await bus.start();
  const captured = new Promise<void>((resolve) => (wake = resolve));
  for (let i = 0; i < n; i++) await bus.publish(Tick, { orderId: `o-${i}`, n: i });
  await captured;
  await bus.stop();
  const times = events.map(() => Date.now());
  const options = { instance: bus.instanceId, payload: undefined, keys: defaultKeyFields };
  const { port1, port2 } = new MessageChannel();
  port2.on('message', () => undefined);
  const ways = {
    rows: () => {
      for (let from = 0; from < n; from += 1000) {
        const rows = [];
        for (let i = from; i < Math.min(n, from + 1000); i++) rows.push(entryOf(events[i]!, { ...options, at: times[i]! }));
        port1.postMessage(rows);
      }
    },
    packed: () => {
      for (let from = 0; from < n; from += 1000) port1.postMessage(packBatch(events, times, from, Math.min(n, from + 1000), options));
    },
  };
  const rowsUs: number[] = [];
  const packedUs: number[] = [];
  for (let r = 0; r <= rounds; r++) {
    for (const way of r % 2 === 0 ? (['rows', 'packed'] as const) : (['packed', 'rows'] as const)) {
      const before = mainThreadCpuUs();
      ways[way]();
      const us = (mainThreadCpuUs() - before) / n;
      if (r > 0) (way === 'rows' ? rowsUs : packedUs).push(us); // round 0 warms up
    }
  }
  port1.close();
  return { rowsUs, packedUs };
}

const fixed = (n: number, digits = 1): string => n.toFixed(digits);
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const pct = (n: number): string => `${n >= 0 ? '+' : ''}${(n * 100).toFixed(1)}%`;

/** The markdown rows of one path: medians, spreads, and the on/off ratios of each round pair. */
export function overheadTable(path: OverheadPath, result: Record<JournalMode, OverheadRound[]> & { count: number }): string[] {
  const { off, on, discard, listener, observer, count } = result;
  const pairs = (with_: OverheadRound[]) => Math.min(off.length, with_.length);
  const ratio = (with_: OverheadRound[], k: 'busUs' | 'processUs' | 'perSecond') =>
    spread(Array.from({ length: pairs(with_) }, (_, i) => with_[i]![k] / off[i]![k] - 1));
  const cell = (rs: OverheadRound[], k: 'busUs' | 'processUs' | 'perSecond', digits = 1) => {
    const s = spread(rs.map((r) => r[k]));
    return k === 'perSecond'
      ? `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`
      : `${fixed(s.median, digits)} (${fixed(s.min, digits)}–${fixed(s.max, digits)})`;
  };
  const change = (with_: OverheadRound[], k: 'busUs' | 'processUs' | 'perSecond') => {
    const s = ratio(with_, k);
    return `${pct(s.median)} (${pct(s.min)} to ${pct(s.max)})`;
  };
  const extra = (with_: OverheadRound[]) => spread(Array.from({ length: pairs(with_) }, (_, i) => with_[i]!.busUs - off[i]!.busUs)).median;
  const vs = (label: string, with_: OverheadRound[]) =>
    `| ${path}, ${label} ÷ off, per round pair | ${change(with_, 'busUs')}; ${extra(with_) >= 0 ? '+' : ''}${fixed(extra(with_), 2)} µs | ${change(with_, 'processUs')} | ${change(with_, 'perSecond')} | ${pairs(with_)} pairs |`;
  const lines = [
    `| ${path}, journal off | ${cell(off, 'busUs')} | ${cell(off, 'processUs')} | ${cell(off, 'perSecond')} | — |`,
    `| ${path}, journal on | ${cell(on, 'busUs')} | ${cell(on, 'processUs')} | ${cell(on, 'perSecond')} | ${fmt(spread(on.map((r) => r.rows)).min)} of ${fmt(count)} (fewest); ${fmt(spread(on.map((r) => r.rowsPerBatch)).median)} rows a batch (median) |`,
  ];
  if (discard.length > 0)
    lines.push(
      `| ${path}, journal on, a store that discards (no worker) | ${cell(discard, 'busUs')} | ${cell(discard, 'processUs')} | ${cell(discard, 'perSecond')} | — |`,
    );
  if (listener.length > 0)
    lines.push(
      `| ${path}, an empty \`handled\` listener, no journal (core's part) | ${cell(listener, 'busUs')} | ${cell(listener, 'processUs')} | ${cell(listener, 'perSecond')} | — |`,
    );
  if (observer.length > 0)
    lines.push(
      `| ${path}, an empty \`observeHandled\` observer, no journal (core's part, as the journal uses it) | ${cell(observer, 'busUs')} | ${cell(observer, 'processUs')} | ${cell(observer, 'perSecond')} | — |`,
    );
  lines.push(vs('on', on));
  if (discard.length > 0) lines.push(vs('on (discarding store)', discard));
  if (listener.length > 0) lines.push(vs('empty listener', listener));
  if (observer.length > 0) lines.push(vs('empty observer', observer));
  return lines;
}
