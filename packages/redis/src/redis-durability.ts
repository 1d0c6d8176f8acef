/**
 * What `connect` checks of the server for the transport's `durability` option: `aof` and `fsync`
 * need the append-only file on, and `fsync` also `appendfsync always`. A server that cannot give
 * what was asked for is refused with a `ConfigurationError` saying what to set.
 *
 * @example
 * ```ts
 * await checkDurability(redis, 'aof', 'redis://127.0.0.1:6379');
 * ```
 * @module
 */
import type { Redis } from 'ioredis';
import { ConfigurationError } from '@missive/core';
import type { RedisDurability } from './redis-options.js';

/** Resolves when the server at `where` (a redacted URL) keeps messages as `durability` demands; rejects with `ConfigurationError` otherwise. */
export async function checkDurability(redis: Redis, durability: RedisDurability, where: string): Promise<void> {
  if (durability === 'memory') return;
  const info = await redis.info('persistence');
  if (!/^aof_enabled:1\s*$/m.test(info)) {
    throw new ConfigurationError(
      `redis durability=${durability} needs AOF on the server at ${where}: set "appendonly yes" (or use durability=memory and accept losing everything on restart)`,
    );
  }
  if (durability === 'fsync') {
    let policy: string | undefined;
    try {
      policy = ((await redis.config('GET', 'appendfsync')) as string[])[1];
    } catch (error) {
      throw new ConfigurationError(
        `redis durability=fsync could not read appendfsync at ${where} (CONFIG is disabled?): ${(error as Error).message}`,
        { cause: error },
      );
    }
    if (policy !== 'always')
      throw new ConfigurationError(
        `redis durability=fsync needs "appendfsync always" at ${where}, found "${policy}"; with "${policy}" use durability=aof`,
      );
  }
}
