/**
 * One start-up, timed from inside a fresh process: `node bench/dist/startup/consumer.js <url>`.
 * Prints one JSON line of milliseconds since the process started (`performance.now()`): when this
 * module began (Node's own start-up), after importing Missive and zod, after `bus.start()` (the
 * endpoint consuming), and when the first message it published to itself was handled.
 *
 * @module
 */
const begun = performance.now();
const { createBus, defineEvent, silentLogger } = await import('@missive/core');
const { z } = await import('zod');
const imported = performance.now();

const url = process.argv[2] ?? 'memory://';
const Ping = defineEvent(`bench.startup-${process.pid}`, z.object({ n: z.number() }));
const bus = createBus({ service: 'bench-startup', transport: url, logger: silentLogger });
let handled!: () => void;
const first = new Promise<void>((resolve) => (handled = resolve));
const queue = `bench-startup-${process.pid}`;
bus.endpoint(queue, (e) => e.on(Ping, () => handled()));
await bus.start();
const consuming = performance.now();
await bus.publish(Ping, { n: 1 });
await first;
const firstHandled = performance.now();
await bus.transport.deleteQueue(queue).catch(() => undefined);
await bus.transport.deleteTopic?.(Ping.name).catch(() => undefined);
await bus.stop();
process.stdout.write(`${JSON.stringify({ begun, imported, consuming, firstHandled })}\n`);
