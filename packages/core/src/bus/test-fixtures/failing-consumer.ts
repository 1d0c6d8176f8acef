/**
 * A service whose only work is one endpoint, on a transport whose consumer fails after its first
 * delivery (as a broken driver would). Prints `ready`, then `handled <n>` per message. With `listen`
 * as its argument it listens to the bus's `consumer-failed` event (and prints it) instead of leaving
 * the failure to the bus's default.
 */
import { consoleLogger, createBus, defineCommand, MemoryBroker } from '../../index.js';
import type { Consumer, Delivery } from '../../transport/index.js';
import { z } from 'zod';

const Job = defineCommand('failing.job', z.object({ n: z.number() }));
const inner = new MemoryBroker().transport();
/** The memory transport, except that its consumers' iterators throw after the first delivery. */
function consume(queue: string, options: { readonly prefetch: number }): Consumer {
  const consumer = inner.consume(queue, options);
  return {
    close: () => consumer.close(),
    async *[Symbol.asyncIterator](): AsyncGenerator<Delivery> {
      for await (const delivery of consumer) {
        yield delivery;
        throw new Error('the driver broke');
      }
    },
  };
}
const transport = new Proxy(inner, {
  get: (target, key) =>
    key === 'consume'
      ? consume
      : (Reflect.get(target, key) as unknown) instanceof Function
        ? (Reflect.get(target, key) as (...a: unknown[]) => unknown).bind(target)
        : Reflect.get(target, key),
});
const bus = createBus({ service: 'failing', transport, logger: consoleLogger('error') });
if (process.argv[2] === 'listen')
  bus.on('consumer-failed', ({ endpoint, error }) => process.stdout.write(`failed ${endpoint} ${error.message}\n`));
bus.endpoint('jobs', (e) => e.on(Job, ({ n }) => void process.stdout.write(`handled ${n}\n`)));
await bus.start();
process.stdout.write('ready\n');
await bus.send(Job, { n: 1 });
await bus.send(Job, { n: 2 });
