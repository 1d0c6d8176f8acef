/**
 * A consumer process for the conformance suite's multi-process cases. Argument: JSON
 * `{ url, service, endpoint, type, hang?, keyed?, prefetch?, concurrency?, workMs? }`. It prints
 * `ready` (or `failed <error name>: <message>` and exits with 3 when the bus cannot start), then for each message `got <n> <attempt>` when the handler starts and
 * `done <n> <key> <start> <end>` (epoch ms with fractions) when it ends, unless `hang` keeps the
 * handler waiting forever (a consumer that will be killed).
 *
 * @example
 * ```sh
 * node --import tsx --conditions=@missive/source child-consumer.ts '{"url":"sqlite:///tmp/b.db",...}'
 * ```
 * @module
 */
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
}

const config = JSON.parse(process.argv[2] ?? '{}') as Config;
const now = () => (performance.timeOrigin + performance.now()).toFixed(3);
const Work = defineCommand(config.type, z.object({ n: z.number(), key: z.string().optional() }), config.keyed === true ? { partitionKey: (m) => m.key ?? '' } : {});
const bus = createBus({ service: config.service, transport: config.url, logger: silentLogger, retry: { immediate: 0, delayed: false } });
bus.endpoint(
  config.endpoint,
  (e) =>
    e.on(Work, async (m, ctx) => {
      const start = now();
      process.stdout.write(`got ${m.n} ${ctx.attempt}\n`);
      if (config.hang === true) await new Promise(() => undefined);
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
