/**
 * What the Redis integration tests share: the server's URL, a key prefix unique to the run (so
 * runs never see each other's keys on the shared server), deleting a prefix's keys afterwards, and
 * the reachability check that skips a test with its reason (or fails it under
 * `MISSIVE_REQUIRE_BROKERS=1`).
 *
 * @example
 * ```ts
 * const prefix = uniquePrefix();
 * const transport = new RedisTransport({ url: redisUrl, prefix });
 * await deletePrefix(redisUrl, prefix);
 * ```
 * @module
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import { afterEach } from 'vitest';
import { brokersRequired } from '@missive/testing';

/** The server the tests use: `MISSIVE_REDIS_URL`, else the local one. */
export const redisUrl = process.env.MISSIVE_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix no other run uses. */
export function uniquePrefix(): string {
  return `missive-test-${randomBytes(5).toString('hex')}`;
}

/** Deletes every key under `prefix` (SCAN, never KEYS). */
export async function deletePrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** Whether something listens at the URL's host and port. */
export function reachable(target: string): Promise<boolean> {
  const parsed = new URL(target);
  return new Promise((resolve) => {
    const socket = connect({ host: parsed.hostname, port: Number(parsed.port || 6379) });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.setTimeout(2000, () => (socket.destroy(), resolve(false)));
  });
}

/** True when the server answers; otherwise skips the test with the reason, or throws when brokers are required. */
export async function needRedis(ctx: { skip: (note?: string) => void }, url: string = redisUrl): Promise<boolean> {
  if (await reachable(url)) return true;
  const problem = `Redis not reachable at ${new URL(url).host}`;
  if (brokersRequired()) throw new Error(`${problem} (MISSIVE_REQUIRE_BROKERS=1)`);
  ctx.skip(`${problem}; set MISSIVE_REQUIRE_BROKERS=1 to fail instead`);
  return false;
}

/** Steps run after each test of the file, last added first; a failing step does not stop the others. */
export function cleanupAfterEach(): { push(step: () => Promise<unknown> | void): void } {
  const steps: (() => Promise<unknown> | void)[] = [];
  afterEach(async () => {
    for (const step of steps.splice(0).reverse()) {
      try {
        await step();
      } catch {
        /* cleanup goes on */
      }
    }
  });
  return { push: (step) => void steps.push(step) };
}
