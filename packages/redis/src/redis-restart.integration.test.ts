/**
 * Redis restarted mid-stream. The test starts its OWN `redis-server` (AOF on, `appendfsync always`,
 * a temp directory, a free port), never the shared one: consumers are working through a backlog
 * with deliveries in flight when the server is killed with SIGKILL and started again on the same
 * files. Every message whose publish resolved is handled (at least once), with the transport
 * demanding `durability=fsync` at connect; and `durability=aof` is refused by a server without AOF.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigurationError, createBus, defineCommand, silentLogger } from '@missive/core';
import { brokersRequired, createWaiter, startProcess, type TestProcess } from '@missive/testing';
import { z } from 'zod';
import { RedisTransport } from './redis-transport.js';
import { cleanupAfterEach, needRedis, redisUrl, uniquePrefix } from './test-support/redis.js';

const cleanup = cleanupAfterEach();
const waiter = createWaiter({ timeoutMs: 30_000 });

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

async function startRedis(dir: string, port: number): Promise<TestProcess> {
  const server = startProcess('redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--appendonly',
    'yes',
    '--appendfsync',
    'always',
    '--save',
    '',
  ]);
  await server.waitFor(/Ready to accept connections/, 15_000);
  return server;
}

describe('redis restart', () => {
  it('killed and restarted mid-stream (its own AOF server): every acknowledged publish is handled', async (ctx) => {
    if (spawnSync('redis-server', ['--version']).error !== undefined) {
      if (brokersRequired()) throw new Error('redis-server is not installed (MISSIVE_REQUIRE_BROKERS=1)');
      ctx.skip('redis-server is not installed; the restart case starts its own');
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'missive-redis-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const port = await freePort();
    let server = await startRedis(dir, port);
    cleanup.push(async () => {
      server.kill('SIGKILL');
      await server.exited;
    });
    const url = `redis://127.0.0.1:${port}?prefix=${uniquePrefix()}&claimIdle=1000&durability=fsync`;
    const Work = defineCommand('restart.work', z.object({ n: z.number() }));
    const handled = new Set<number>();
    const consumer = createBus({ service: 'consumer', transport: url, logger: silentLogger, retry: { immediate: 0, delayed: false } });
    consumer.endpoint(
      'restart-work',
      (e) =>
        e.on(Work, async (m) => {
          await new Promise((resolve) => setTimeout(resolve, 5));
          handled.add(m.n);
          waiter.notify();
        }),
      { concurrency: 4, prefetch: 8 },
    );
    await consumer.start();
    cleanup.push(() => consumer.stop());
    const publisher = createBus({ service: 'publisher', transport: url, logger: silentLogger });
    await publisher.start();
    cleanup.push(() => publisher.stop());

    for (let n = 0; n < 300; n++) await publisher.send(Work, { n });
    await waiter.until(() => handled.size >= 50, 'the consumer to be mid-stream');
    expect(handled.size).toBeLessThan(300);
    server.kill('SIGKILL');
    await server.exited;
    server = await startRedis(dir, port);
    for (let n = 300; n < 400; n++) await publisher.send(Work, { n });
    await waiter.until(() => handled.size === 400, `all 400 messages after the restart (so far ${handled.size})`);
  }, 90_000);

  it('durability=aof is refused by a server without AOF, saying what to set', async (ctx) => {
    if (!(await needRedis(ctx))) return;
    const persistence = await (async () => {
      const probe = new RedisTransport({ url: redisUrl, prefix: uniquePrefix() }, { logger: silentLogger });
      await probe.connect();
      try {
        return await probe.redis.info('persistence');
      } finally {
        await probe.close();
      }
    })();
    if (/^aof_enabled:1/m.test(persistence)) {
      ctx.skip('the shared Redis has AOF on; this case needs one without');
      return;
    }
    const transport = new RedisTransport({ url: redisUrl, prefix: uniquePrefix(), durability: 'aof' }, { logger: silentLogger });
    const error = await transport.connect().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toContain('appendonly yes');
  });
});
