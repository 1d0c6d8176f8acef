/**
 * Where the journal's extra CPU on the bus thread comes from, on the memory transport with an empty
 * handler (bus-thread CPU µs per message, medians of 6 alternating rounds of 20,000 messages):
 *
 * - `neighbours`: the journal off, alone and with a thread beside it that spins, writes a 64 MiB
 *   array at random, allocates and drops 1 MiB buffers (mapped and unmapped), or works 1 ms in every
 *   2: does a busy thread beside the bus slow it?
 * - `stores` (or a comma-separated list of them): the journal with stores that cost the bus thread
 *   different things: `off`; `discard` (nothing); `slow` (each batch waits 25 ms, no CPU: batches
 *   pile up on the bus thread as with a slower worker); `echo` (a worker thread that answers at
 *   once: the hand-over alone); `echo-slow` (the same, answered 25 ms later); `sqlite` (the real
 *   worker). Run it with `--max-semi-space-size=64` to see what a larger young generation changes.
 *
 * ```sh
 * node bench/dist/profile/journal-neighbours.js neighbours
 * node bench/dist/profile/journal-neighbours.js stores
 * node --max-semi-space-size=64 bench/dist/profile/journal-neighbours.js stores off,discard,slow,sqlite
 * ```
 * @module
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { createBus, defineEvent, MemoryBroker, silentLogger } from '@missive/core';
import { journal, type JournalStore } from '@missive/dashboard';
import { z } from 'zod';
import { mainThreadCpuUs } from '../harness/thread-cpu.js';
import { overheadRound } from '../scenarios/journal-overhead.js';

const ROUNDS = 6;
const COUNT = 20_000;
const Tick = defineEvent('bench.tick', z.object({ orderId: z.string(), n: z.number() }));

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Alternates `modes` for {@link ROUNDS} rounds and prints each mode's median and rounds. */
async function alternate(modes: readonly string[], round: (mode: string) => Promise<number>): Promise<void> {
  const results = new Map<string, number[]>(modes.map((m) => [m, []]));
  for (let r = 0; r < ROUNDS; r++) for (const mode of r % 2 ? [...modes].reverse() : modes) results.get(mode)!.push(await round(mode));
  for (const [mode, us] of results)
    console.log(`${mode.padEnd(10)} ${median(us).toFixed(2)} µs/msg  (${us.map((u) => u.toFixed(2)).join(' ')})`);
}

const dir = mkdtempSync(join(tmpdir(), 'missive-journal-neighbours-'));
const what = process.argv[2] ?? 'stores';
console.log(`journal-neighbours ${what}; load ${loadavg()[0]!.toFixed(1)}`);
try {
  if (what === 'neighbours') {
    const neighbours: Record<string, string | undefined> = {
      alone: undefined,
      spin: 'let x = 0; for (;;) { x = (x * 1103515245 + 12345) | 0; }',
      memory:
        'const a = new Int32Array(16 << 20); let x = 1; for (;;) { x = (x * 1103515245 + 12345) | 0; a[(x >>> 0) & ((16 << 20) - 1)] += 1; }',
      // Allocates and drops 1 MiB buffers: their memory is mapped and unmapped (munmap), and an unmapping
      // thread makes the kernel flush the TLB of every CPU running a thread of the same process.
      unmapping: 'for (;;) { const b = new Uint8Array(1 << 20); b[0] = 1; }',
      'half-busy':
        'const sab = new Int32Array(new SharedArrayBuffer(4)); let x = 0; for (;;) { const t = Date.now(); while (Date.now() - t < 1) x++; Atomics.wait(sab, 0, 0, 1); }',
    };
    await alternate(Object.keys(neighbours), async (mode) => {
      const code = neighbours[mode];
      const worker = code === undefined ? undefined : new Worker(code, { eval: true });
      if (worker !== undefined) await new Promise((resolve) => setTimeout(resolve, 50));
      const round = await overheadRound('memory', 'off', COUNT, dir);
      await worker?.terminate();
      return round.busUs;
    });
  } else {
    const echo = new Worker(
      `const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => parentPort.postMessage(m.id));`,
      { eval: true },
    );
    let next = 0;
    const waiting = new Map<number, () => void>();
    echo.on('message', (id: number) => {
      waiting.get(id)?.();
      waiting.delete(id);
    });
    const post = (batch: unknown, then: (resolve: () => void) => void): Promise<void> =>
      new Promise((resolve) => {
        const id = next++;
        waiting.set(id, () => then(resolve));
        echo.postMessage({ id, batch });
      });
    const base: JournalStore = {
      append: () => Promise.resolve(),
      conversation: () => Promise.resolve([]),
      recent: () => Promise.resolve([]),
      prune: () => Promise.resolve(0),
      count: () => Promise.resolve(0),
      close: () => Promise.resolve(),
    };
    const stores: Record<string, () => JournalStore | string | undefined> = {
      off: () => undefined,
      discard: () => ({ ...base, appendPacked: () => Promise.resolve() }),
      slow: () => ({ ...base, appendPacked: () => new Promise((resolve) => setTimeout(resolve, 25)) }),
      echo: () => ({ ...base, appendPacked: (batch) => post(batch, (resolve) => resolve()) }),
      'echo-slow': () => ({ ...base, appendPacked: (batch) => post(batch, (resolve) => setTimeout(resolve, 25)) }),
      sqlite: () => `sqlite://${join(dir, `${randomUUID()}.db`)}`,
    };
    const modes = (process.argv[3] ?? Object.keys(stores).join(',')).split(',');
    await alternate(modes, async (mode) => {
      const bus = createBus({ service: 'bench', transport: new MemoryBroker().transport(), logger: silentLogger });
      let handled = 0;
      let target = 0;
      let wake: (() => void) | undefined;
      bus.endpoint('bench', (e) =>
        e.on(Tick, () => {
          if (++handled >= target) wake?.();
        }),
      );
      const store = stores[mode]!();
      const j = store === undefined ? undefined : journal(bus, { store });
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
      await run(5_000);
      const before = mainThreadCpuUs();
      await run(COUNT);
      const us = (mainThreadCpuUs() - before) / COUNT;
      await bus.stop();
      return us;
    });
    await echo.terminate();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
