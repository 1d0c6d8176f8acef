/**
 * Opens the transport a command works on, from `--url` or `MISSIVE_URL`, through core's URL
 * selection (so every transport package works). A bad URL, or one naming no existing bus (the CLI
 * never creates one), is a usage error whose message never contains the password.
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
  if (target === undefined || target === '')
    throw new UsageError('no transport URL: pass --url or set MISSIVE_URL (for example sqlite://.missive/bus.db)');
  let transport: Transport | undefined;
  try {
    // openExisting: the CLI operates a bus; it never creates one (a mistyped sqlite path fails here).
    transport = await loadTransport(parseTransportUrl(target), { clock: systemClock, logger: silentLogger, openExisting: true });
    await transport.connect();
    return transport;
  } catch (error) {
    await transport?.close().catch(() => undefined);
    if (error instanceof ConfigurationError) throw new UsageError(error.message);
    throw error;
  }
}

/** Throws a usage error unless `queue` exists on the transport. */
export async function requireQueue(transport: Transport, queue: string): Promise<void> {
  const queues = await transport.queues();
  if (!queues.some((q) => q.name === queue)) throw new UsageError(`no queue named "${queue}"; \`missive queues\` lists them`);
}
