/**
 * Options of the NATS transport, from a `nats://` URL (or `tls://`, see below) or an object. Missive's own
 * parameters live in the query; user and password (or a token as the user part) in the authority.
 * A query parameter not in the table below (nor `tls`, `servers` or `name`) is refused, and so is an
 * unknown key of the options object (a misspelt `ackWait` for `ackWaitMs` in JavaScript). Faults are
 * `ConfigurationError`s that say what to fix, never showing the password or the token.
 *
 * | parameter | meaning | default |
 * | --- | --- | --- |
 * | `prefix` | namespace of every stream and subject Missive creates (letters, digits, `-`, `_`) | `missive` |
 * | `ackWait` | JetStream ack wait, ms: how long a crashed consumer's messages stay out (a live one extends it) | 10000 |
 * | `publishTimeout` | how long a publish waits for its PubAck, ms | 10000 |
 * | `replicas` | replicas of the streams Missive creates (3 on a three-node cluster) | 1 |
 * | `maxDeliver` | JetStream `max_deliver` of endpoint consumers (a backstop behind the bus's own `maxDeliveries`) | 100 |
 * | `confirmAcks` | `true`: an ack resolves on the server's confirmation (one more round trip); `false`: once sent | false |
 * | `ownersBucket` | the key-value bucket of command owners (buses that must agree on owners share it) | `<PREFIX>_OWNERS` |
 * | `contentMode` | how the bus's messages are written: `structured` (the envelope's JSON as the payload) or `binary` (the data as the payload, attributes in `ce-` headers); both are read either way | `structured` |
 * | `batch` | how many messages published in one turn to one subject may share a JetStream message, 1–64 (see `batch.ts`); 1 is off | 1 |
 *
 * TLS: `nats://host:4222?tls=true` (or TLS options in code). `tls://host:4222`, the NATS clients'
 * own spelling, is accepted too, but core's lookup does not send `tls://` here by itself (the scheme
 * names a security layer, not a broker): an app that has such URLs passes
 * `transports: { tls: createTransport }`. More servers of one cluster go in `servers=host:port,…`.
 *
 * @example
 * ```ts
 * resolveNatsOptions({ url: 'nats://127.0.0.1:4222?prefix=shop&ackWait=30000' });
 * ```
 * @module
 */
import { ConfigurationError, redactUrl } from '@missive/core';
import { checkKnownKeys } from '@missive/core/transport';

/** Options of the NATS transport. */
export interface NatsOptions {
  /** `nats://[user:password@]host:4222?prefix=missive`, `…?tls=true`, or `tls://…`. */
  readonly url: string;
  readonly prefix?: string;
  readonly ackWaitMs?: number;
  readonly publishTimeoutMs?: number;
  readonly replicas?: number;
  readonly maxDeliver?: number;
  readonly confirmAcks?: boolean;
  /** The key-value bucket of command owners (default `<PREFIX>_OWNERS`): buses that must agree on owners share it. */
  readonly ownersBucket?: string;
  /**
   * How the bus's messages are written (CloudEvents content modes, see `message-codec.ts`):
   * `structured` (default) the envelope's JSON as the payload; `binary` the data as the payload and
   * the other attributes in `ce-` headers (measured slower on nats-server 2.9, see the README).
   * Readers read both.
   */
  readonly contentMode?: ContentMode;
  /**
   * How many unkeyed messages published in one event-loop turn to one subject may share one
   * JetStream message (1–64; 1, the default, is off). See "Batch messages" in the README.
   */
  readonly batch?: number;
  /** TLS options passed to nats.js (`ca`, `cert`, `key` as file paths or PEM strings). */
  readonly tls?: Record<string, unknown>;
  /** The connection's name as the server shows it. */
  readonly name?: string;
}

/** How the bus's messages are written on NATS. */
export type ContentMode = 'binary' | 'structured';

/** Options with defaults filled in, and what nats.js gets. */
export interface ResolvedNatsOptions {
  readonly servers: string[];
  readonly prefix: string;
  readonly ackWaitMs: number;
  readonly publishTimeoutMs: number;
  readonly replicas: number;
  readonly maxDeliver: number;
  readonly confirmAcks: boolean;
  /** Undefined: `<PREFIX>_OWNERS`. */
  readonly ownersBucket: string | undefined;
  readonly contentMode: ContentMode;
  /** Messages per batch message at most; 1: off. */
  readonly batch: number;
  readonly tls: Record<string, unknown> | undefined;
  readonly user: string | undefined;
  readonly pass: string | undefined;
  readonly token: string | undefined;
  readonly name: string;
  /** The URL without its password or token, for messages. */
  readonly shown: string;
}

function int(value: string | number | null | undefined, name: string, fallback: number, min: number): number {
  if (value === undefined || value === null) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new ConfigurationError(`nats option ${name} must be a whole number of at least ${min}, got ${JSON.stringify(value)}`);
  return n;
}

/**
 * The parameters a URL may carry: Missive's, and the connection's (`tls`, `servers`, `name`, which
 * go to nats.js). Any other one is refused: a misspelt `?ackwait=` would be ignored without a word.
 */
const KNOWN = [
  'prefix',
  'ackWait',
  'publishTimeout',
  'replicas',
  'maxDeliver',
  'confirmAcks',
  'ownersBucket',
  'contentMode',
  'batch',
  'tls',
  'servers',
  'name',
];

/** Most messages one batch message holds (see `batch.ts`). */
export const MAX_BATCH = 64;

function batchSize(value: string | number | null | undefined): number {
  const n = int(value, 'batch', 1, 1);
  if (n > MAX_BATCH)
    throw new ConfigurationError(`nats option batch must be a whole number from 1 to ${MAX_BATCH}, got ${JSON.stringify(value)}`);
  return n;
}

function bool(value: string | null, name: string, fallback: boolean): boolean {
  if (value === null) return fallback;
  if (value !== 'true' && value !== 'false')
    throw new ConfigurationError(`nats option ${name} must be "true" or "false", got ${JSON.stringify(value)}`);
  return value === 'true';
}

function contentMode(value: string | undefined): ContentMode {
  if (value === undefined) return 'structured';
  if (value !== 'binary' && value !== 'structured')
    throw new ConfigurationError(`nats option contentMode must be "binary" or "structured", got ${JSON.stringify(value)}`);
  return value;
}

function bucket(value: string | undefined): string | undefined {
  if (value !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(value))
    throw new ConfigurationError(`nats option ownersBucket must be 1-64 letters, digits, "-" or "_", got ${JSON.stringify(value)}`);
  return value;
}

/** Checks options and fills in defaults. */
export function resolveNatsOptions(options: NatsOptions): ResolvedNatsOptions {
  checkKnownKeys('nats', options, {
    url: true,
    prefix: true,
    ackWaitMs: true,
    publishTimeoutMs: true,
    replicas: true,
    maxDeliver: true,
    confirmAcks: true,
    ownersBucket: true,
    contentMode: true,
    batch: true,
    tls: true,
    name: true,
  });
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new ConfigurationError('nats URL is not a URL: use nats://host:4222 (add ?tls=true for TLS)');
  }
  // The user part without a password is a token here, whatever the scheme (an amqp:// URL given by mistake too).
  const shown = redactUrl(url.password === '' && url.username !== '' ? Object.assign(new URL(url.href), { username: '***' }) : url);
  if (url.protocol !== 'nats:' && url.protocol !== 'tls:')
    throw new ConfigurationError(`nats URL ${shown} must start with nats:// (or tls://)`);
  if (url.hostname === '') throw new ConfigurationError(`nats URL ${shown} has no host`);
  const q = url.searchParams;
  for (const key of q.keys()) {
    if (!KNOWN.includes(key)) throw new ConfigurationError(`unknown nats URL parameter ${JSON.stringify(key)}; known: ${KNOWN.join(', ')}`);
  }
  const prefix = options.prefix ?? q.get('prefix') ?? 'missive';
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(prefix))
    throw new ConfigurationError(`nats option prefix must be 1-32 letters, digits, "-" or "_", got ${JSON.stringify(prefix)}`);
  const tlsOn = url.protocol === 'tls:' || bool(q.get('tls'), 'tls', false) || options.tls !== undefined;
  const port = url.port === '' ? '4222' : url.port;
  const scheme = tlsOn ? 'tls' : 'nats';
  const servers = [`${scheme}://${url.hostname}:${port}`];
  for (const extra of (q.get('servers') ?? '').split(',').filter((s) => s !== '')) {
    if (!/^[A-Za-z0-9.[\]:-]+:\d+$/.test(extra))
      throw new ConfigurationError(`nats option servers must be host:port entries separated by commas, got ${JSON.stringify(extra)}`);
    servers.push(`${scheme}://${extra}`);
  }
  const user = url.username === '' ? undefined : decodeURIComponent(url.username);
  const pass = url.password === '' ? undefined : decodeURIComponent(url.password);
  return {
    servers,
    prefix,
    ackWaitMs: int(options.ackWaitMs ?? q.get('ackWait'), 'ackWait', 10_000, 1000),
    publishTimeoutMs: int(options.publishTimeoutMs ?? q.get('publishTimeout'), 'publishTimeout', 10_000, 100),
    replicas: int(options.replicas ?? q.get('replicas'), 'replicas', 1, 1),
    maxDeliver: int(options.maxDeliver ?? q.get('maxDeliver'), 'maxDeliver', 100, 2),
    confirmAcks: options.confirmAcks ?? bool(q.get('confirmAcks'), 'confirmAcks', false),
    ownersBucket: bucket(options.ownersBucket ?? q.get('ownersBucket') ?? undefined),
    contentMode: contentMode(options.contentMode ?? q.get('contentMode') ?? undefined),
    batch: batchSize(options.batch ?? q.get('batch')),
    tls: tlsOn ? (options.tls ?? {}) : undefined,
    user: pass === undefined ? undefined : user,
    pass,
    token: pass === undefined ? user : undefined,
    name: options.name ?? q.get('name') ?? 'missive',
    shown,
  };
}
