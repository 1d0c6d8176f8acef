/**
 * Opens the transport a command works on, from `--url` or `MISSIVE_URL`, through core's URL
 * selection (so every transport package works). A bad URL is a usage error whose message never
 * contains the password.
 *
 * @example
 * ```ts
 * const transport = await openTransport(values.url);
 * ```
 * @module
 */
import { ConfigurationError, silentLogger, systemClock, type Transport } from '@missive/core';
import { loadTransport, parseTransportUrl } from '@missive/core/transport';
import { UsageError } from './errors.js';

/** Connects the transport of `url` (or `MISSIVE_URL`). */
export async function openTransport(url: string | undefined): Promise<Transport> {
  const target = url ?? process.env.MISSIVE_URL;
  if (target === undefined || target === '') throw new UsageError('no transport URL: pass --url or set MISSIVE_URL (for example sqlite://.missive/bus.db)');
  let transport: Transport;
  try {
    transport = await loadTransport(parseTransportUrl(target), { clock: systemClock, logger: silentLogger });
  } catch (error) {
    if (error instanceof ConfigurationError) throw new UsageError(error.message);
    throw error;
  }
  await transport.connect();
  return transport;
}

/** Throws a usage error unless `queue` exists on the transport. */
export async function requireQueue(transport: Transport, queue: string): Promise<void> {
  const queues = await transport.queues();
  if (!queues.some((q) => q.name === queue)) throw new UsageError(`no queue named "${queue}"; \`missive queues\` lists them`);
}
