/**
 * Options of the Redis transport, from a `redis://` / `rediss://` URL or an object. Missive's own
 * parameters are taken out of the query before ioredis sees the URL (ioredis reads query
 * parameters as its own options); of ioredis's, only `family`, `db`, `username`, `password` and
 * `tls` may be in the URL, and any other parameter is refused. Faults are `ConfigurationError`s
 * that say what to fix, with the password redacted.
 *
 * | parameter | meaning | default |
 * | --- | --- | --- |
 * | `prefix` | prefix of every key Missive writes (one bus per prefix) | `missive` |
 * | `claimIdle` | a delivery not touched for this long (its consumer died) is reclaimed by another consumer, ms | 30000 |
 * | `durability` | what `connect` demands of the server: `memory`, `aof` or `fsync` (see the README) | `memory` |
 * | `poll` | how often delays are promoted and dead connections reaped when nothing wakes the transport, ms | 250 |
 * | `timeout` | a connection that answers nothing for this long while a command waits is dead: dropped and reconnected, ms | 5000 |
 *
 * @example
 * ```ts
 * redisOptionsFromUrl(new URL('redis://:secret@127.0.0.1:6379/0?prefix=shop&durability=aof'));
 * ```
 * @module
 */
import { ConfigurationError, redactUrl } from '@missive/core';
import { checkKnownKeys } from '@missive/core/transport';
import { BATCH_MAX_MESSAGES } from './entry.js';

/** What `connect` demands of the server's persistence. */
export type RedisDurability = 'memory' | 'aof' | 'fsync';

/** Options of the Redis transport. */
export interface RedisTransportOptions {
  /** `redis://[:password@]host:port/db` or `rediss://…` (TLS). */
  readonly url: string;
  /** Prefix of every key (without the trailing colon). Default `missive`. */
  readonly prefix?: string;
  /**
   * How long a delivery may go untouched before another consumer reclaims it (`XAUTOCLAIM`), ms.
   * Live consumers touch what they hold every third of it, so only a dead consumer's deliveries
   * are reclaimed. Default 30000.
   */
  readonly claimIdleMs?: number;
  /**
   * `memory` accepts any server (a server without persistence loses everything on restart);
   * `aof` refuses to start unless the server has AOF on (with `appendfsync everysec`, an
   * acknowledged publish can be lost on power failure, up to about a second); `fsync` also
   * demands `appendfsync always` (nothing acknowledged is lost). Default `memory`.
   */
  readonly durability?: RedisDurability;
  /** Fallback poll for due delays and dead connections, ms. Default 250. */
  readonly pollMs?: number;
  /**
   * Liveness: a connection on which a command has waited this long with nothing received is taken
   * for dead (a half-open link: a crashed host, a dropped route), dropped and reconnected. The
   * transport pings every quarter of it and blocks in reads for at most half of it, so a dead link
   * is noticed within 1.25 × `timeoutMs`. A Redis busy longer than this (a script running that
   * long) also counts as dead. Default 5000.
   */
  readonly timeoutMs?: number;
  /**
   * How many messages published in one turn to one stream may share a stream entry (1–64; URL
   * `?batch=N`). Default 1: every message is an entry of its own. Above 1, Redis stores, delivers,
   * acks and deletes one entry for up to N messages (less CPU for Redis and the consumer), at two
   * costs (see the README's "Batch entries"): a consumer reads an entry whole, so it may hold up to
   * N − 1 messages beyond its prefetch (competing consumers with long jobs share work less evenly),
   * and a consumer that crashes redelivers its entries whole.
   */
  readonly batch?: number;
  /** Extra ioredis options (TLS certificates, timeouts). */
  readonly redisOptions?: Record<string, unknown>;
}

/** Options with defaults filled in; `url` is what ioredis gets. */
export interface ResolvedRedisOptions {
  readonly url: string;
  readonly prefix: string;
  readonly claimIdleMs: number;
  readonly durability: RedisDurability;
  readonly pollMs: number;
  readonly timeoutMs: number;
  /** Messages per stream entry at most (1: no batch entries). */
  readonly batch: number;
  readonly redisOptions: Record<string, unknown>;
}

const OWN = ['prefix', 'claimIdle', 'durability', 'poll', 'timeout', 'batch'];
/**
 * The ioredis options a URL may carry. ioredis takes every query parameter as an option, as text,
 * and before the options the transport sets: a misspelt parameter would be ignored without a word,
 * and one such as `keyPrefix`, `lazyConnect` or `retryStrategy` would break the transport. Others
 * go in `redisOptions`.
 */
const IOREDIS = ['family', 'db', 'username', 'password', 'tls'];
const KNOWN = new Set([...OWN, ...IOREDIS]);

function int(value: string | number | undefined | null, name: string, fallback: number, min: number): number {
  if (value === undefined || value === null) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new ConfigurationError(`redis option ${name} must be a whole number of at least ${min}, got ${JSON.stringify(value)}`);
  return n;
}

/** Checks options and fills in defaults. */
export function resolveRedisOptions(options: RedisTransportOptions): ResolvedRedisOptions {
  checkKnownKeys('redis', options, {
    url: true,
    prefix: true,
    claimIdleMs: true,
    durability: true,
    pollMs: true,
    timeoutMs: true,
    batch: true,
    redisOptions: true,
  });
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new ConfigurationError('redis URL is not a URL: use redis://[:password@]host:6379/db or rediss://… for TLS');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
    throw new ConfigurationError(`redis URL ${redactUrl(url)} must start with redis:// or rediss://`);
  if (url.hostname === '') throw new ConfigurationError(`redis URL ${redactUrl(url)} has no host`);
  const db = url.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db))
    throw new ConfigurationError(`redis URL ${redactUrl(url)}: the path must be a database number, got "${db}"`);
  for (const key of url.searchParams.keys()) {
    if (!KNOWN.has(key))
      throw new ConfigurationError(
        `unknown redis URL parameter "${key}"; known: ${[...KNOWN].join(', ')} (other ioredis options go in the redisOptions option)`,
      );
  }
  const prefix = options.prefix ?? url.searchParams.get('prefix') ?? 'missive';
  if (!/^[A-Za-z0-9._:-]+$/.test(prefix))
    throw new ConfigurationError(`redis option prefix must be letters, digits, ".", "_", ":" or "-", got ${JSON.stringify(prefix)}`);
  const claimIdleMs = int(options.claimIdleMs ?? url.searchParams.get('claimIdle'), 'claimIdle', 30_000, 100);
  const pollMs = int(options.pollMs ?? url.searchParams.get('poll'), 'poll', 250, 10);
  const timeoutMs = int(options.timeoutMs ?? url.searchParams.get('timeout'), 'timeout', 5000, 200);
  const batch = int(options.batch ?? url.searchParams.get('batch'), 'batch', 1, 1);
  if (batch > BATCH_MAX_MESSAGES)
    throw new ConfigurationError(`redis option batch must be at most ${BATCH_MAX_MESSAGES} messages per entry, got ${batch}`);
  const durability = options.durability ?? url.searchParams.get('durability') ?? 'memory';
  if (durability !== 'memory' && durability !== 'aof' && durability !== 'fsync') {
    throw new ConfigurationError(`redis option durability must be "memory", "aof" or "fsync", got ${JSON.stringify(durability)}`);
  }
  for (const key of OWN) url.searchParams.delete(key);
  return {
    url: url.href,
    prefix: `${prefix}:`,
    claimIdleMs,
    durability,
    pollMs,
    timeoutMs,
    batch,
    redisOptions: options.redisOptions ?? {},
  };
}

/** Options from a transport URL (what `createBus({ transport: 'redis://…' })` uses). */
export function redisOptionsFromUrl(url: URL): ResolvedRedisOptions {
  return resolveRedisOptions({ url: url.href });
}
