/**
 * The PostgreSQL transport's options, from a URL (`postgres://user:pass@host:5432/db?schema=missive`)
 * or an object. Missive's own parameters are taken out of the URL; those `pg` reads (`sslmode`,
 * `application_name`, ...) go to it as part of the connection string, and any other is refused.
 * Every fault is a `ConfigurationError` that says what to fix, and never shows the password.
 *
 * | parameter | meaning | default |
 * | --- | --- | --- |
 * | `schema` | the PostgreSQL schema that holds the transport's tables (created if missing) | `missive` |
 * | `lease` | visibility timeout of a delivery, ms; extended while the handler runs | 30000 |
 * | `poll` | fallback wake-up interval, ms (`LISTEN/NOTIFY` is the main one) | 1000 |
 * | `pool` | connections in the pool (the listening connection is one more) | 10 |
 * | `reconnect` | how long an operation waits for the database while it is unreachable, ms (then `PostgresUnavailableError`) | 60000 |
 * | `maxBuffered` | operations that may wait for an unreachable database at once (one more: `PostgresBacklogFullError`) | 10000 |
 * | `heartbeat` | ping interval of the listening connection, ms; a dead link is noticed within two | 5000 |
 * | `commit` | `durable`: a publish resolves once its row is on disk; `async`: once committed in memory (`synchronous_commit = off` for the transport's own sessions; see {@link PostgresTransportOptions.commit}) | `durable` |
 *
 * @example
 * ```ts
 * postgresOptionsFromUrl(new URL('postgres://app@db:5432/shop?schema=bus&lease=5000'));
 * ```
 * @module
 */
import { ConfigurationError, redactUrl } from '@missive/core';
import { checkKnownKeys } from '@missive/core/transport';

/** Options of the PostgreSQL transport. */
export interface PostgresTransportOptions {
  /** A `postgres://` connection string as `pg` takes it (without Missive's own parameters). */
  readonly connectionString: string;
  /** Schema of the transport's tables. Letters, digits and `_`, starting with a letter or `_`. */
  readonly schema?: string;
  readonly leaseMs?: number;
  readonly pollMs?: number;
  readonly poolSize?: number;
  /** How long an operation waits for an unreachable database, ms (then `PostgresUnavailableError`). */
  readonly reconnectMs?: number;
  /** Operations that may wait for an unreachable database at once (one more fails with `PostgresBacklogFullError`). */
  readonly maxBuffered?: number;
  /** Ping interval of the listening connection, ms: a link that stops answering is dropped within two intervals. */
  readonly heartbeatMs?: number;
  /** `application_name` of the transport's connections (shown in `pg_stat_activity`). Default `missive`. */
  readonly applicationName?: string;
  /**
   * When a publish (and a send, a schedule, a dead letter) resolves. `durable` (the default): after
   * its commit reached the disk. `async`: after its commit, without waiting for the WAL flush, for
   * the transport's own sessions only (`synchronous_commit = off`; an application's own transaction
   * through the outbox keeps its setting), and the `NOTIFY` goes in the insert's statement, one
   * round trip less (unless a burst has four or more inserts under way). What it risks: a PostgreSQL crash or a power loss can lose the last few hundred
   * milliseconds (up to three times `wal_writer_delay`) of publishes that resolved, and of acks
   * (their messages are delivered again: the inbox drops the copies). Never corruption, never a
   * partial message; a crash of a Missive process loses nothing either way. Claims and acks commit
   * asynchronously in both modes (a lost claim is only a lease that never happened).
   */
  readonly commit?: 'durable' | 'async';
}

/** Options with every default filled in. */
export type ResolvedPostgresOptions = Required<PostgresTransportOptions>;

const KNOWN = {
  schema: 'schema',
  lease: 'leaseMs',
  poll: 'pollMs',
  pool: 'poolSize',
  reconnect: 'reconnectMs',
  maxBuffered: 'maxBuffered',
  heartbeat: 'heartbeatMs',
  commit: 'commit',
} as const;

/**
 * The connection-string parameters `pg` reads (pg-connection-string takes every one into the config,
 * and `pg` ignores those it does not know, so a misspelt one would be lost without a word).
 */
const PG = [
  'sslmode',
  'ssl',
  'sslcert',
  'sslkey',
  'sslrootcert',
  'sslnegotiation',
  'uselibpqcompat',
  'application_name',
  'fallback_application_name',
  'client_encoding',
  'encoding',
  'options',
  'statement_timeout',
  'lock_timeout',
  'idle_in_transaction_session_timeout',
  'query_timeout',
  'binary',
  'replication',
  'host',
  'port',
  'user',
  'password',
  'db',
  'database',
];
const ALLOWED = new Set([...Object.keys(KNOWN), ...PG]);

function int(value: string | number | undefined, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new ConfigurationError(`postgres option ${name} must be a whole number of at least ${min}, got ${JSON.stringify(value)}`);
  return n;
}

function commitMode(value: string | undefined): 'durable' | 'async' {
  if (value === undefined || value === 'durable' || value === 'async') return value ?? 'durable';
  throw new ConfigurationError(`postgres option commit must be durable or async, got ${JSON.stringify(value)}`);
}

/** Checks a schema (or other identifier) name; returns it. */
export function checkIdentifier(name: string, what: string): string {
  if (!/^[a-z_][a-z0-9_]{0,47}$/.test(name)) {
    throw new ConfigurationError(
      `postgres ${what} ${JSON.stringify(name)} is not allowed: use lower-case letters, digits and _ (at most 48), starting with a letter or _`,
    );
  }
  return name;
}

/** Checks options and fills in defaults. */
export function resolvePostgresOptions(options: PostgresTransportOptions): ResolvedPostgresOptions {
  checkKnownKeys('postgres', options, {
    connectionString: true,
    schema: true,
    leaseMs: true,
    pollMs: true,
    poolSize: true,
    reconnectMs: true,
    maxBuffered: true,
    heartbeatMs: true,
    applicationName: true,
    commit: true,
  });
  let url: URL;
  try {
    url = new URL(options.connectionString);
  } catch {
    throw new ConfigurationError('postgres transport needs a connection string such as postgres://user@host:5432/database');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw new ConfigurationError(`not a postgres URL: ${redactUrl(url)}`);
  return {
    connectionString: options.connectionString,
    schema: checkIdentifier(options.schema ?? 'missive', 'schema'),
    leaseMs: int(options.leaseMs, 'lease', 30_000, 100),
    pollMs: int(options.pollMs, 'poll', 1000, 5),
    poolSize: int(options.poolSize, 'pool', 10, 1),
    reconnectMs: int(options.reconnectMs, 'reconnect', 60_000, 0),
    maxBuffered: int(options.maxBuffered, 'maxBuffered', 10_000, 0),
    heartbeatMs: int(options.heartbeatMs, 'heartbeat', 5000, 100),
    applicationName: options.applicationName ?? url.searchParams.get('application_name') ?? 'missive',
    commit: commitMode(options.commit),
  };
}

/** Reads options from a `postgres:` or `postgresql:` URL; the rest of the URL goes to `pg`. */
export function postgresOptionsFromUrl(url: URL): ResolvedPostgresOptions {
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
    throw new ConfigurationError(`not a postgres URL: scheme ${url.protocol}`);
  for (const key of url.searchParams.keys()) {
    if (!ALLOWED.has(key))
      throw new ConfigurationError(
        `unknown postgres URL parameter "${key}"; Missive's: ${Object.keys(KNOWN).join(', ')}; pg's: ${PG.join(', ')}`,
      );
  }
  const rest = new URL(url.href);
  const picked: Record<string, string> = {};
  for (const [param, option] of Object.entries(KNOWN)) {
    const value = rest.searchParams.get(param);
    if (value !== null) picked[option] = value;
    rest.searchParams.delete(param);
  }
  if (rest.hostname === '')
    throw new ConfigurationError(`postgres URL ${redactUrl(url)} has no host: use postgres://user@host:5432/database`);
  return resolvePostgresOptions({ connectionString: rest.href, ...picked });
}

/**
 * The connection string and startup `options` of sessions that run with `setting` (`name=value`),
 * keeping the URL's own `options` (a connection string's parameters override `pg`'s config, so they
 * are moved into one `options`).
 */
export function withSetting(connectionString: string, setting: string): { connectionString: string; options: string } {
  const url = new URL(connectionString);
  const own = url.searchParams.get('options');
  url.searchParams.delete('options');
  return { connectionString: url.href, options: `${own === null ? '' : `${own} `}-c ${setting}` };
}
