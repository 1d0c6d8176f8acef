/**
 * Chooses a transport by URL, without core naming every transport package:
 *
 * 1. `memory://` is built in.
 * 2. A factory passed explicitly (`createBus({ transports: { redis: createTransport } })`) wins:
 *    nothing is imported, so bundled apps and private transports work the same way.
 * 3. Otherwise the scheme names the package by convention: `<scheme>://` is `@missive/<scheme>`,
 *    after the aliases in {@link schemeAliases} (`amqp` is RabbitMQ's protocol, `postgresql` and
 *    `rediss` are spellings of `postgres` and `redis`). `loadTransport` imports it and calls its
 *    `createTransport` ({@link TransportFactory}). A missing package fails at start with the
 *    `npm install` line and the `transports` option to use instead.
 *
 * Nothing registers itself in module state, and a URL is never printed with its password.
 *
 * @example
 * ```ts
 * const url = parseTransportUrl('amqp://guest:secret@localhost'); // checked at createBus
 * const transport = await loadTransport(url, { clock: systemClock, logger: silentLogger }); // at start
 * const custom = await loadTransport(parseTransportUrl('mq://host'), options, { mq: createMyTransport });
 * ```
 * @module
 */
import { ConfigurationError } from '../errors.js';
import { redactUrl } from '../logger.js';
import { MemoryBroker } from './memory/memory-broker.js';
import type { Transport, TransportFactory, TransportFactoryOptions } from './transport.js';

/** Transport factories by URL scheme (`redis`, or `redis:`), given to `createBus` as its `transports` option. */
export type TransportFactories = Readonly<Record<string, TransportFactory>>;

/**
 * Schemes whose package is not `@missive/<scheme>`: the package's name without `@missive/`.
 * Only protocol names and spellings; a new transport package needs no entry here when its scheme is its name.
 */
export const schemeAliases: Readonly<Record<string, string>> = Object.freeze({
  amqp: 'rabbitmq',
  amqps: 'rabbitmq',
  postgresql: 'postgres',
  rediss: 'redis',
});

/** For error messages: the transports this repository ships (a new package adds itself here only as documentation). */
const SHIPPED =
  'memory:// (built in), sqlite://path/to/bus.db (@missive/sqlite), amqp://user:pass@host:5672/vhost or amqps:// (@missive/rabbitmq), postgres://user@host:5432/db or postgresql:// (@missive/postgres), nats://host:4222 (@missive/nats), redis://host:6379 or rediss:// (@missive/redis)';

/** A scheme as written in URLs and in `transports` keys: lower case, without the colon. */
function schemeOf(protocol: string): string {
  return protocol.toLowerCase().replace(/:$/, '');
}

/** The package that provides `<scheme>://` by convention (`postgresql:` and `postgresql` both give `@missive/postgres`). */
export function transportPackage(scheme: string): string {
  const name = schemeOf(scheme);
  return `@missive/${schemeAliases[name] ?? name}`;
}

/** Checks a `transports` option; throws a `ConfigurationError` that says what to fix. */
export function checkTransportFactories(transports: unknown): TransportFactories {
  if (transports === undefined) return {};
  if (typeof transports !== 'object' || transports === null)
    throw new ConfigurationError('transports must be an object of transport factories by URL scheme, like { redis: createTransport }');
  const out: Record<string, TransportFactory> = {};
  for (const [key, factory] of Object.entries(transports)) {
    const scheme = schemeOf(key);
    if (!/^[a-z][a-z0-9+.-]*$/.test(scheme))
      throw new ConfigurationError(`transports: "${key}" is not a URL scheme; write it like "redis" (for redis://)`);
    if (typeof factory !== 'function')
      throw new ConfigurationError(`transports.${key} must be a transport package's createTransport function`);
    out[scheme] = factory as TransportFactory;
  }
  return out;
}

/** Parses and checks a transport URL; throws a `ConfigurationError` that says what to fix. */
export function parseTransportUrl(url: string | URL): URL {
  let parsed: URL | undefined;
  try {
    parsed = typeof url === 'string' ? new URL(url) : new URL(url.href);
  } catch {
    parsed = undefined;
  }
  // `user:secret@host` parses as the scheme `user:`; a transport URL always has `scheme://`.
  if (parsed === undefined || !parsed.href.startsWith(`${parsed.protocol}//`) || !/^[a-z][a-z0-9.-]*:$/.test(parsed.protocol)) {
    const shown = typeof url === 'string' && !url.includes('@') ? JSON.stringify(url) : '<hidden>';
    throw new ConfigurationError(`transport URL ${shown} is not a URL of the form <scheme>://...; use one of ${SHIPPED}`);
  }
  if (parsed.protocol === 'memory:' && parsed.href !== 'memory://') {
    // A name would promise a broker shared by every bus using it; that needs a process-wide registry
    // (module state, which Missive does not keep: it would outlive tests and have no owner to close
    // it), so buses share a broker by being handed the same instance instead.
    throw new ConfigurationError(
      `transport URL ${redactUrl(parsed)} names a memory broker, but memory URLs cannot share one: "memory://" gives each bus its own. ` +
        'For buses that talk in one process, create one broker and hand it to each: const broker = new MemoryBroker(); createBus({ ..., transport: broker.transport() })',
    );
  }
  return parsed;
}

/**
 * Creates the transport for a checked URL: `memory://`, else the factory for its scheme in
 * `transports`, else the `createTransport` of its package by convention (see the module comment).
 */
export async function loadTransport(url: URL, options: TransportFactoryOptions, transports: TransportFactories = {}): Promise<Transport> {
  const scheme = schemeOf(url.protocol);
  const given = checkTransportFactories(transports)[scheme];
  if (given !== undefined) return given(url, options);
  if (scheme === 'memory') return new MemoryBroker({ clock: options.clock }).transport();
  const name = transportPackage(scheme);
  let module: { createTransport?: TransportFactory };
  try {
    module = (await import(name)) as { createTransport?: TransportFactory };
  } catch (error) {
    const code = (error as { code?: string }).code;
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && String((error as Error).message).includes(name)) {
      throw new ConfigurationError(
        `transport URL ${redactUrl(url)} needs the package ${name}: run "npm install ${name}", or pass its factory as createBus({ transports: { ${scheme}: createTransport } }). Shipped: ${SHIPPED}`,
        { cause: error },
      );
    }
    throw error;
  }
  if (typeof module.createTransport !== 'function')
    throw new ConfigurationError(`package ${name} (for ${scheme}://) does not export createTransport`);
  return module.createTransport(url, options);
}
