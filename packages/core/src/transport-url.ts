/**
 * Chooses a transport by URL. Each scheme belongs to a transport package the user installs;
 * `loadTransport` imports that package and calls its `createTransport`. Nothing registers itself
 * in module state, and a URL is never printed with its password.
 *
 * @example
 * ```ts
 * const url = parseTransportUrl('amqp://guest:secret@localhost'); // checked at createBus
 * const transport = await loadTransport(url, { clock: systemClock, logger: silentLogger }); // at start
 * ```
 * @module
 */
import { ConfigurationError } from './errors.js';
import { redactUrl } from './logger.js';
import { MemoryBroker } from './memory/memory-broker.js';
import type { Transport, TransportFactory, TransportFactoryOptions } from './transport.js';

/** Transport packages by URL scheme. */
export const transportPackages: Readonly<Record<string, string>> = Object.freeze({
  'sqlite:': '@missive/sqlite',
  'postgres:': '@missive/postgres',
  'postgresql:': '@missive/postgres',
  'amqp:': '@missive/rabbitmq',
  'amqps:': '@missive/rabbitmq',
  'nats:': '@missive/nats',
  'redis:': '@missive/redis',
  'rediss:': '@missive/redis',
});

const SCHEMES = ['memory://', 'sqlite://path/to/bus.db', 'amqp://user:pass@host:5672/vhost', 'amqps://...', 'postgres://...', 'nats://...', 'redis://...'];

/** Parses and checks a transport URL; throws a `ConfigurationError` that says what to fix. */
export function parseTransportUrl(url: string | URL): URL {
  let parsed: URL;
  try {
    parsed = typeof url === 'string' ? new URL(url) : new URL(url.href);
  } catch {
    throw new ConfigurationError(`transport URL ${JSON.stringify(typeof url === 'string' && !url.includes('@') ? url : '<hidden>')} is not a URL; use one of ${SCHEMES.join(', ')}`);
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
  if (parsed.protocol !== 'memory:' && transportPackages[parsed.protocol] === undefined) {
    throw new ConfigurationError(`transport URL ${redactUrl(parsed)} has an unknown scheme "${parsed.protocol}"; use one of ${SCHEMES.join(', ')}`);
  }
  return parsed;
}

/** Creates the transport for a checked URL, importing its package. */
export async function loadTransport(url: URL, options: TransportFactoryOptions): Promise<Transport> {
  if (url.protocol === 'memory:') return new MemoryBroker({ clock: options.clock }).transport();
  const name = transportPackages[url.protocol]!;
  let module: { createTransport?: TransportFactory };
  try {
    module = (await import(name)) as { createTransport?: TransportFactory };
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new ConfigurationError(`transport URL ${redactUrl(url)} needs the package ${name}: run "npm install ${name}"`, { cause: error });
    }
    throw error;
  }
  if (typeof module.createTransport !== 'function') throw new ConfigurationError(`package ${name} does not export createTransport`);
  return module.createTransport(url, options);
}
