/**
 * The key-value buckets' first read cannot be lost (see `kv-bucket.ts`): nats-server 2.9 drops a
 * direct get that arrives while another connection is still setting the bucket's stream up, and
 * the read that lost it failed the bus's start with `TIMEOUT` after 5 s (CI, three instances of
 * one endpoint starting together). A proxy that drops direct gets makes that loss happen on
 * purpose; a bucket that never answers fails with an error that says why.
 */
import { afterEach, expect, it } from 'vitest';
import { z } from 'zod';
import { createBus, defineCommand, TransportError, type Logger, type LogFields } from '@missive/core';
import { connect } from 'nats';
import { KvBucket, untilAnswering } from './kv-bucket.js';
import { startDroppingProxy } from './test-support/dropping-proxy.js';
import { natsUrl, natsUrlFor, needNats, removePrefix, uniquePrefix } from './test-support/server.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const Charge = defineCommand('test.kv.charge', z.object({ n: z.number() }));
const DIRECT_GET = '$JS.API.DIRECT.GET.';

function recordingLogger(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const none = () => undefined;
  const logger: Logger = {
    debug: none,
    info: none,
    warn: (_fields: LogFields | string, message?: string) => void warnings.push(String(message)),
    error: none,
    child: () => logger,
  };
  return { logger, warnings };
}

async function proxied(): Promise<{ url: string; proxy: Awaited<ReturnType<typeof startDroppingProxy>> }> {
  const proxy = await startDroppingProxy({ port: Number(new URL(natsUrl).port || 4222) });
  cleanups.push(() => proxy.close());
  const direct = natsUrlFor(uniquePrefix());
  cleanups.push(() => removePrefix(direct));
  const url = new URL(direct);
  url.port = String(proxy.port);
  return { url: url.href, proxy };
}

it('a bus starts when the first read of its command owners bucket is lost, and handles its commands', async (ctx) => {
  if (!(await needNats(ctx))) return;
  const { url, proxy } = await proxied();
  proxy.drop(DIRECT_GET, 1);

  const bus = createBus({ service: 'billing', transport: url });
  cleanups.push(() => bus.stop());
  const got: number[] = [];
  bus.endpoint('billing', (e) => e.on(Charge, (m) => void got.push(m.n)));
  await bus.start();
  expect(proxy.dropped).toBe(1);

  await bus.send(Charge, { n: 7 });
  await expect.poll(() => got).toEqual([7]);
}, 30_000);

it('a bucket that never answers a read fails its open with an error naming the subject and the causes to check', async (ctx) => {
  if (!(await needNats(ctx))) return;
  const { url, proxy } = await proxied();
  const nc = await connect({ servers: `127.0.0.1:${proxy.port}` });
  cleanups.push(() => nc.close());
  const bucketName = `${new URL(url).searchParams.get('prefix')!.toUpperCase()}_PROBE`;
  const log = recordingLogger();
  // The bucket is made first, so what follows is the read alone.
  await new KvBucket({ nc, replicas: 1, logger: log.logger }, bucketName, { what: 'test' }).open();

  proxy.drop(DIRECT_GET, Infinity);
  const failed = await untilAnswering(nc, bucketName, { logger: log.logger, what: 'test', deadlineMs: 4_000 }).then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(failed).toBeInstanceOf(TransportError);
  expect((failed as Error).message).toContain(`$JS.API.DIRECT.GET.KV_${bucketName}`);
  expect((failed as Error).message).toContain('may not publish to $JS.API.DIRECT.GET.>');
  expect(proxy.dropped).toBeGreaterThanOrEqual(2);
  expect(log.warnings).toEqual(['nats: a key-value bucket does not answer reads yet; asking again']);
}, 30_000);
