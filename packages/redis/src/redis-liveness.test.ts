import { describe, expect, it } from 'vitest';
import { blockLimitMs, clientOptions, isLinkTimeout } from './redis-liveness.js';
import { resolveRedisOptions } from './redis-options.js';

describe('redis liveness options', () => {
  it('gives every connection a socket timeout, a connect timeout and a jittered, capped reconnect backoff', () => {
    const options = clientOptions(resolveRedisOptions({ url: 'redis://127.0.0.1:6379?timeout=3000' }));
    expect(options).toMatchObject({ socketTimeout: 3000, connectTimeout: 3000, lazyConnect: true });
    const waits = Array.from({ length: 100 }, () => options.retryStrategy!(12) as number);
    expect(Math.min(...waits)).toBeGreaterThanOrEqual(1000);
    expect(Math.max(...waits)).toBeLessThanOrEqual(2000);
    expect(new Set(waits).size).toBeGreaterThan(10); // jitter: not the same wait for every process
    expect(options.retryStrategy!(1)).toBeLessThanOrEqual(50);
  });

  it('caps a blocking read at half the timeout, so its empty reply comes before the socket timeout', () => {
    expect(blockLimitMs(resolveRedisOptions({ url: 'redis://127.0.0.1' }))).toBe(2500);
    expect(blockLimitMs(resolveRedisOptions({ url: 'redis://127.0.0.1?timeout=2000' }))).toBe(1000);
  });

  it("lets the user's ioredis options win", () => {
    const retryStrategy = () => 7;
    const options = clientOptions(resolveRedisOptions({ url: 'redis://127.0.0.1', redisOptions: { retryStrategy, socketTimeout: 9000 } }));
    expect(options.retryStrategy).toBe(retryStrategy);
    expect(options.socketTimeout).toBe(9000);
  });

  it("recognises ioredis's dead-link error", () => {
    expect(isLinkTimeout(new Error("Socket timeout. Expecting data, but didn't receive any in 2000ms."))).toBe(true);
    expect(isLinkTimeout(new Error('ECONNRESET'))).toBe(false);
  });
});
