/**
 * The SQLite transport's options, from a URL (`sqlite://relative/path.db`, `sqlite:///absolute/path.db`,
 * query parameters below) or an object. Every fault is a `ConfigurationError` that says what to fix.
 *
 * | parameter | meaning | default |
 * | --- | --- | --- |
 * | `synchronous` | `full` (a confirmed publish survives power loss) or `normal` (survives a process crash) | `full` |
 * | `lease` | visibility timeout of a delivery, ms; extended while the handler runs | 30000 |
 * | `poll` | fallback wake-up interval, ms (file-change notification is the main one) | 250 |
 * | `busyTimeout` | how long a statement waits for another process's write lock, ms | 5000 |
 *
 * @example
 * ```ts
 * sqliteOptionsFromUrl(new URL('sqlite://.missive/bus.db?lease=5000'));
 * ```
 * @module
 */
import { resolve } from 'node:path';
import { ConfigurationError } from '@missive/core';
import { checkKnownKeys } from '@missive/core/transport';

/** Options of the SQLite transport. */
export interface SqliteTransportOptions {
  /** Path of the database file; created with its directory if missing (unless `create` is false). */
  readonly path: string;
  /**
   * Whether `connect` may create the file, its directory and the transport's tables (default true).
   * False for tools that operate an existing bus: a missing file or one without the tables is a
   * `ConfigurationError`, and nothing is written to disk.
   */
  readonly create?: boolean;
  readonly synchronous?: 'FULL' | 'NORMAL';
  readonly leaseMs?: number;
  readonly pollMs?: number;
  readonly busyTimeoutMs?: number;
}

/** Options with every default filled in. */
export type ResolvedSqliteOptions = Required<SqliteTransportOptions>;

const KNOWN = new Set(['synchronous', 'lease', 'poll', 'busyTimeout']);

function int(value: string | number | undefined, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new ConfigurationError(`sqlite option ${name} must be a whole number of at least ${min}, got ${JSON.stringify(value)}`);
  return n;
}

/** Checks options and fills in defaults. */
export function resolveSqliteOptions(options: SqliteTransportOptions): ResolvedSqliteOptions {
  checkKnownKeys('sqlite', options, {
    path: true,
    create: true,
    synchronous: true,
    leaseMs: true,
    pollMs: true,
    busyTimeoutMs: true,
  });
  if (typeof options.path !== 'string' || options.path === '')
    throw new ConfigurationError('sqlite transport needs a database path, as in sqlite://.missive/bus.db');
  if (options.path === ':memory:')
    throw new ConfigurationError('sqlite://:memory: cannot be shared by processes; use a file path, or memory:// for one process');
  const synchronous = (options.synchronous ?? 'FULL').toUpperCase();
  if (synchronous !== 'FULL' && synchronous !== 'NORMAL')
    throw new ConfigurationError(`sqlite option synchronous must be "full" or "normal", got ${JSON.stringify(options.synchronous)}`);
  return {
    path: resolve(options.path),
    create: options.create ?? true,
    synchronous,
    leaseMs: int(options.leaseMs, 'lease', 30_000, 100),
    pollMs: int(options.pollMs, 'poll', 250, 5),
    busyTimeoutMs: int(options.busyTimeoutMs, 'busyTimeout', 5000, 0),
  };
}

/** Reads options from a `sqlite:` URL. */
export function sqliteOptionsFromUrl(url: URL): ResolvedSqliteOptions {
  if (url.protocol !== 'sqlite:') throw new ConfigurationError(`not a sqlite URL: scheme ${url.protocol}`);
  for (const key of url.searchParams.keys()) {
    if (!KNOWN.has(key)) throw new ConfigurationError(`unknown sqlite URL parameter "${key}"; known: ${[...KNOWN].join(', ')}`);
  }
  const path = decodeURIComponent(url.host + url.pathname);
  if (path === '' || path === '/')
    throw new ConfigurationError('sqlite URL has no file path: use sqlite://relative/path.db or sqlite:///absolute/path.db');
  return resolveSqliteOptions({
    path,
    synchronous: (url.searchParams.get('synchronous') ?? undefined) as 'FULL' | undefined,
    leaseMs: url.searchParams.get('lease') ?? undefined,
    pollMs: url.searchParams.get('poll') ?? undefined,
    busyTimeoutMs: url.searchParams.get('busyTimeout') ?? undefined,
  } as unknown as SqliteTransportOptions);
}
