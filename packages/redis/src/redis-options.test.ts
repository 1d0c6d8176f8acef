import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '@missive/core';
import { resolveRedisOptions, type RedisTransportOptions } from './redis-options.js';
import { RedisTransport } from './redis-transport.js';

describe('redis options', () => {
  it("reads Missive parameters from the URL and leaves ioredis's to it", () => {
    const options = resolveRedisOptions({
      url: 'redis://:secret@127.0.0.1:6380/2?prefix=shop&claimIdle=5000&durability=aof&poll=100&timeout=2000&batch=16&family=4',
    });
    expect(options).toMatchObject({ prefix: 'shop:', claimIdleMs: 5000, durability: 'aof', pollMs: 100, timeoutMs: 2000, batch: 16 });
    expect(options.url).toBe('redis://:secret@127.0.0.1:6380/2?family=4');
  });

  it('has defaults', () => {
    expect(resolveRedisOptions({ url: 'rediss://cache.internal' })).toMatchObject({
      prefix: 'missive:',
      claimIdleMs: 30_000,
      durability: 'memory',
      pollMs: 250,
      timeoutMs: 5000,
      batch: 1,
    });
  });

  it.each([
    ['not a url', /is not a URL/],
    ['amqp://127.0.0.1', /must start with redis:\/\/ or rediss:\/\//],
    ['redis://127.0.0.1/zero', /database number/],
    ['redis://127.0.0.1?claimIdle=soon', /claimIdle must be a whole number/],
    ['redis://127.0.0.1?timeout=50', /timeout must be a whole number of at least 200/],
    ['redis://127.0.0.1?batch=0', /batch must be a whole number of at least 1/],
    ['redis://127.0.0.1?batch=65', /batch must be at most 64 messages per entry/],
    ['redis://127.0.0.1?durability=disk', /durability must be "memory", "aof" or "fsync"/],
    ['redis://127.0.0.1?prefix=a%20b', /prefix must be letters/],
    ['redis://127.0.0.1?claimidle=1000', /unknown redis URL parameter "claimidle"; known: prefix, claimIdle/],
    ['redis://127.0.0.1?keyPrefix=other:', /unknown redis URL parameter "keyPrefix".*redisOptions/],
  ])('refuses %s, saying what to fix', (url, message) => {
    expect(() => resolveRedisOptions({ url })).toThrow(ConfigurationError);
    expect(() => resolveRedisOptions({ url })).toThrow(message);
  });

  it('never prints the password', () => {
    let error: unknown;
    try {
      new RedisTransport({ url: 'redis://:hunter2@127.0.0.1/x' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).not.toContain('hunter2');
  });

  it('refuses a misspelt option (JavaScript, no type check) at construction, named, with the known ones', () => {
    const options = { url: 'redis://127.0.0.1:6379', claimIdle: 1000 } as RedisTransportOptions;
    expect(() => new RedisTransport(options)).toThrow(ConfigurationError);
    expect(() => new RedisTransport(options)).toThrow(
      'unknown redis option "claimIdle"; known: url, prefix, claimIdleMs, durability, pollMs, timeoutMs, batch, redisOptions',
    );
    expect(() =>
      resolveRedisOptions({
        url: 'redis://127.0.0.1:6379',
        prefix: 'p',
        claimIdleMs: 1000,
        durability: 'memory',
        pollMs: 100,
        timeoutMs: 1000,
        batch: 1,
        redisOptions: {},
      }),
    ).not.toThrow();
  });
});
