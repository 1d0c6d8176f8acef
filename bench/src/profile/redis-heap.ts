/**
 * Heap after many parallel sends on Redis, then stop: the fault scenario "stop right after 10k
 * parallel publishes" in one process. A consumer bus (prefetch 64, concurrency 16) and, per round,
 * a publisher bus that sends `count` commands at once and stops; once every one is handled, the heap
 * is read before and after a forced GC. Growth that a GC takes back is transient; what stays after
 * it, round after round, would be a leak. Needs `--expose-gc` and Redis at `BENCH_REDIS_URL` (default local).
 *
 * ```sh
 * node --expose-gc bench/dist/profile/redis-heap.js 10000 [path/to/other/@missive/redis/dist/index.js]
 * ```
 * @module
 */
import { pathToFileURL } from 'node:url';
import { createBus, defineCommand, silentLogger } from '@missive/core';
import type { TransportFactory } from '@missive/core/transport';
import { z } from 'zod';
import { REDIS_URL } from '../harness/machine.js';

const count = Number(process.argv[2] ?? 10_000);
const rounds = 3;
const modulePath = process.argv[3];
const gcNow = (globalThis as { gc?: () => void }).gc;
if (gcNow === undefined) throw new Error('run with node --expose-gc');
const transports =
  modulePath === undefined
    ? undefined
    : { 'redis:': ((await import(pathToFileURL(modulePath).href)) as { createTransport: TransportFactory }).createTransport };
const name = `heap-${process.pid}`;
const url = `${REDIS_URL}?prefix=bench-${name}`;
const Job = defineCommand(`bench.${name}`, z.object({ n: z.number() }));
const mb = (bytes: number) => (bytes / 1_048_576).toFixed(1);
const heap = () => process.memoryUsage().heapUsed;
const turn = () => new Promise((resolve) => setImmediate(resolve));

async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gcNow!();
    await turn();
  }
}

let handled = 0;
const consumer = createBus({ service: 'heap-consumer', transport: url, transports, logger: silentLogger });
consumer.endpoint(name, (e) => e.on(Job, () => void handled++), { prefetch: 64, concurrency: 16 });
await consumer.start();
await collect();
const start = heap();
console.log(
  `${count.toLocaleString('en-US')} parallel sends per round, ${rounds} rounds${modulePath === undefined ? '' : ` (transport from ${modulePath})`}; heap MB over the start`,
);
console.log('| round | peak | when all were handled | after GC |');
console.log('| ---: | ---: | ---: | ---: |');
try {
  for (let round = 1; round <= rounds; round++) {
    const publisher = createBus({ service: 'heap-publisher', transport: url, transports, logger: silentLogger });
    await publisher.start();
    const target = handled + count;
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, heap())), 10);
    const sends = Array.from({ length: count }, (_, n) => publisher.send(Job, { n }));
    peak = Math.max(peak, heap());
    await publisher.stop();
    await Promise.all(sends);
    while (handled < target) await new Promise((resolve) => setTimeout(resolve, 10));
    clearInterval(sampler);
    const end = heap();
    await collect();
    console.log(`| ${round} | ${mb(Math.max(peak, end) - start)} | ${mb(end - start)} | ${mb(heap() - start)} |`);
  }
} finally {
  await consumer.transport.deleteQueue(name);
  await consumer.stop();
}
