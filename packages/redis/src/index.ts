/**
 * `@missive/redis`: the Redis Streams transport (a stream per queue with one consumer group,
 * `XAUTOCLAIM` for dead consumers, delays in a sorted set, per-key order, dead-letter streams).
 *
 * @example
 * ```ts
 * import { createBus } from '@missive/core';
 * const bus = createBus({ service: 'shop', transport: 'redis://127.0.0.1:6379' }); // loads this package
 * ```
 * @module
 */
import type { TransportFactory } from '@missive/core/transport';
import { RedisTransport } from './redis-transport.js';

export { RedisTransport, type RedisTransportDeps } from './redis-transport.js';
export {
  resolveRedisOptions,
  redisOptionsFromUrl,
  type RedisTransportOptions,
  type ResolvedRedisOptions,
  type RedisDurability,
} from './redis-options.js';

/** Creates the transport for a `redis://` or `rediss://` URL (what `createBus({ transport: 'redis://…' })` calls). */
export const createTransport: TransportFactory = (url, options) => new RedisTransport({ url: url.href }, options);
