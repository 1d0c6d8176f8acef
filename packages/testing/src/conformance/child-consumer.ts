/**
 * A consumer process for the conformance suite's multi-process cases. Argument: JSON
 * `{ url, service, endpoint, type, hang?, keyed?, prefetch?, concurrency?, workMs?, blockFile?, publish? }`. It prints
 * `ready` (or `failed <error name>: <message>` and exits with 3 when the bus cannot start), then for each message `got <n> <attempt>` when the handler starts and
 * `done <n> <key> <start> <end>` (epoch ms with fractions) when it ends, unless `hang` keeps the
 * handler waiting forever (a consumer that will be killed). With `blockFile`, the first handler
 * blocks the whole event loop (no timer, no socket, no lease extension runs) until that file
 * exists. With `publish: count`, once ready it sends jobs `0..count-1` to its own endpoint, 20 at
 * a time, printing `sent <n>` when each publish resolves (a publishing process to kill).
 *
 * @example
 * ```sh
 * node --import tsx --conditions=@missive/source child-consumer.ts '{"url":"sqlite:///tmp/b.db",...}'
 * ```
 * @module
 */
import { existsSync } from 'node:fs';
import { createBus, defineCommand, silentLogger } from '@missive/core';
import { z } from 'zod';

interface Config {
  readonly url: string;
  readonly service: string;
  readonly endpoint: string;
  readonly type: string;
  readonly hang?: boolean;
  readonly keyed?: boolean;
  readonly prefetch?: number;
  readonly concurrency?: number;
  readonly workMs?: number;
  readonly blockFile?: string;
  readonly publish?: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as Config;
const now = () => (performance.timeOrigin + performance.now()).toFixed(3);
const Work = defineCommand(
  config.type,
  z.object({ n: z.number(), key: z.string().optional() }),
  config.keyed === true ? { partitionKey: (m) => m.key ?? '' } : {},
);
let blocked = false;

/** Blocks the event loop, not only this handler, until `file` exists: a handler stuck in synchronous work. */
function blockUntil(file: string): void {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  while (!existsSync(file)) Atomics.wait(cell, 0, 0, 20);
}

const bus = createBus({ service: config.service, transport: config.url, logger: silentLogger, retry: { immediate: 0, delayed: false } });
bus.endpoint(
  config.endpoint,
  (e) =>
    e.on(Work, async (m, ctx) => {
      const start = now();
      process.stdout.write(`got ${m.n} ${ctx.attempt}\n`);
      if (config.hang === true) await new Promise(() => undefined);
      if (config.blockFile !== undefined && !blocked) {
        blocked = true;
        blockUntil(config.blockFile);
      }
      if ((config.workMs ?? 0) > 0) await new Promise((resolve) => setTimeout(resolve, config.workMs));
      process.stdout.write(`done ${m.n} ${m.key ?? '-'} ${start} ${now()}\n`);
    }),
  { prefetch: config.prefetch ?? 10, concurrency: config.concurrency ?? config.prefetch ?? 10 },
);
process.on('SIGTERM', () => void bus.stop().then(() => process.exit(0)));
try {
  await bus.start();
} catch (error) {
  process.stdout.write(`failed ${(error as Error).name}: ${(error as Error).message}\n`);
  process.exit(3);
}
process.stdout.write('ready\n');
if (config.publish !== undefined) {
  const count = config.publish;
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const n = next++;
      await bus.send(Work, { n }).then(
        () => process.stdout.write(`sent ${n}\n`),
        (error: Error) => process.stdout.write(`unsent ${n} ${error.name}\n`),
      );
    }
  };
  await Promise.all(Array.from({ length: 20 }, lane));
  process.stdout.write('published\n');
}
