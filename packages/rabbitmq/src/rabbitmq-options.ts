/**
 * Options of the RabbitMQ transport, from an `amqp://` / `amqps://` URL or an object. The vhost is
 * the URL path; Missive's own parameters are taken out of the query before amqplib sees it. Faults
 * are `ConfigurationError`s that say what to fix, with the password redacted.
 *
 * | parameter | meaning | default |
 * | --- | --- | --- |
 * | `heartbeat` | AMQP heartbeat, s (amqplib's own parameter) | 10 |
 * | `queueType` | `quorum` or `classic` for endpoint queues | `quorum` |
 * | `publishTimeout` | how long a publish waits for a lost connection to come back, ms | 10000 |
 * | `maxBuffered` | publishes that may wait for a lost connection at once | 10000 |
 * | `failover` | more nodes of the same cluster, `host:port` separated by commas, tried in turn when the current one is lost or cannot be reached | none |
 *
 * amqplib's own `frameMax`, `channelMax`, `locale` and `maxFrameSize` pass through; any other
 * parameter (a misspelt one) is refused.
 *
 * @example
 * ```ts
 * rabbitMqOptionsFromUrl(new URL('amqp://guest:guest@127.0.0.1:5672/shop?queueType=classic'));
 * ```
 * @module
 */
import { ConfigurationError, redactUrl } from '@missive/core';
import { checkKnownKeys } from '@missive/core/transport';

/** Options of the RabbitMQ transport. */
export interface RabbitMqOptions {
  /** `amqp://user:pass@host:port/vhost?heartbeat=10` or `amqps://…`. */
  readonly url: string;
  readonly queueType?: 'quorum' | 'classic';
  readonly publishTimeoutMs?: number;
  readonly maxBuffered?: number;
  /** TLS and socket options passed to amqplib (ca, cert, key, servername …). */
  readonly socketOptions?: Record<string, unknown>;
  /**
   * More nodes of the same cluster (`host:port`), with the URL's credentials, vhost and parameters.
   * Each reconnection attempt goes to the next node in turn, so losing a node moves the connection
   * to another within about one reconnect delay.
   */
  readonly failover?: readonly string[];
}

/** One node's address. */
export interface NodeAddress {
  readonly hostname: string;
  readonly port: number;
}

/** Options with defaults filled in; `url` is what amqplib gets. */
export type ResolvedRabbitMqOptions = Required<Omit<RabbitMqOptions, 'socketOptions' | 'failover'>> & {
  readonly socketOptions: Record<string, unknown>;
  /** Every node to connect to, the URL's first: one entry without failover. */
  readonly nodes: readonly NodeAddress[];
};

const OWN = ['queueType', 'publishTimeout', 'maxBuffered', 'failover'];
/** The query parameters amqplib reads (everything else in the query it ignores). */
const AMQPLIB = ['heartbeat', 'frameMax', 'channelMax', 'locale', 'maxFrameSize'];
const KNOWN = new Set([...OWN, ...AMQPLIB]);

function nodeAddress(text: string, protocol: string): NodeAddress {
  let url: URL;
  try {
    url = new URL(`${protocol}//${text.trim()}`);
  } catch {
    throw new ConfigurationError(`rabbitmq failover node ${JSON.stringify(text)} is not host:port`);
  }
  if (url.hostname === '' || (url.pathname !== '' && url.pathname !== '/') || url.username !== '')
    throw new ConfigurationError(`rabbitmq failover node ${JSON.stringify(text)} is not host:port`);
  return {
    hostname: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port === '' ? (protocol === 'amqps:' ? 5671 : 5672) : Number(url.port),
  };
}

function int(value: string | number | undefined, name: string, fallback: number, min: number): number {
  if (value === undefined || value === null) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new ConfigurationError(`rabbitmq option ${name} must be a whole number of at least ${min}, got ${JSON.stringify(value)}`);
  return n;
}

/** Checks options and fills in defaults. */
export function resolveRabbitMqOptions(options: RabbitMqOptions): ResolvedRabbitMqOptions {
  checkKnownKeys('rabbitmq', options, {
    url: true,
    queueType: true,
    publishTimeoutMs: true,
    maxBuffered: true,
    socketOptions: true,
    failover: true,
  });
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new ConfigurationError('rabbitmq URL is not a URL: use amqp://user:password@host:5672/vhost');
  }
  if (url.protocol !== 'amqp:' && url.protocol !== 'amqps:')
    throw new ConfigurationError(`rabbitmq URL ${redactUrl(url)} must start with amqp:// or amqps://`);
  if (url.hostname === '') throw new ConfigurationError(`rabbitmq URL ${redactUrl(url)} has no host`);
  // A misspelt parameter (`?queuetype=classic`) would otherwise be ignored by amqplib without a word.
  for (const key of url.searchParams.keys()) {
    if (!KNOWN.has(key)) throw new ConfigurationError(`unknown rabbitmq URL parameter "${key}"; known: ${[...KNOWN].join(', ')}`);
  }
  const queueType = options.queueType ?? (url.searchParams.get('queueType') as 'quorum' | 'classic' | null) ?? 'quorum';
  if (queueType !== 'quorum' && queueType !== 'classic')
    throw new ConfigurationError(`rabbitmq queueType must be "quorum" or "classic", got ${JSON.stringify(queueType)}`);
  const publishTimeoutMs = int(
    options.publishTimeoutMs ?? url.searchParams.get('publishTimeout') ?? undefined,
    'publishTimeout',
    10_000,
    0,
  );
  const maxBuffered = int(options.maxBuffered ?? url.searchParams.get('maxBuffered') ?? undefined, 'maxBuffered', 10_000, 0);
  const failoverText =
    options.failover ??
    url.searchParams
      .get('failover')
      ?.split(',')
      .filter((n) => n.trim() !== '') ??
    [];
  const nodes = [nodeAddress(url.host, url.protocol), ...failoverText.map((n) => nodeAddress(n, url.protocol))];
  for (const key of OWN) url.searchParams.delete(key);
  if (!url.searchParams.has('heartbeat')) url.searchParams.set('heartbeat', '10');
  int(url.searchParams.get('heartbeat') ?? undefined, 'heartbeat', 10, 0);
  return { url: url.href, queueType, publishTimeoutMs, maxBuffered, socketOptions: options.socketOptions ?? {}, nodes };
}
