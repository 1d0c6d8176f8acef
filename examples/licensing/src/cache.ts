/**
 * The licensing service's organization cache: Redis when `REDIS_URL` is set (shared by every
 * licensing instance, survives their restarts), an in-process map otherwise.
 */
import { Redis } from 'ioredis';

/** A cache of organizations as JSON strings. */
export interface OrganizationCache {
  readonly kind: string;
  get(id: string): Promise<string | undefined>;
  set(id: string, value: string): Promise<void>;
  evict(id: string): Promise<void>;
  close(): Promise<void>;
}

export function memoryCache(): OrganizationCache {
  const map = new Map<string, string>();
  return {
    kind: 'memory',
    get: async (id) => map.get(id),
    set: async (id, value) => void map.set(id, value),
    evict: async (id) => void map.delete(id),
    close: async () => undefined,
  };
}

export function redisCache(url: string, prefix: string): OrganizationCache {
  const redis = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 2 });
  return {
    kind: 'redis',
    get: async (id) => (await redis.get(prefix + id)) ?? undefined,
    set: async (id, value) => void (await redis.set(prefix + id, value)),
    evict: async (id) => void (await redis.del(prefix + id)),
    close: async () => void (await redis.quit()),
  };
}

export function cacheFromEnvironment(): OrganizationCache {
  const url = process.env.REDIS_URL;
  return url === undefined || url === '' ? memoryCache() : redisCache(url, process.env.LICENSING_CACHE_PREFIX ?? 'licensing:organization:');
}
