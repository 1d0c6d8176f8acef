/**
 * Declares a short-lived queue bound to topics, for a listener (the catalog, an announcer's pings,
 * the live tail): temporary where the transport can bind a temporary queue to topics, so the broker
 * removes it with the connection; otherwise (NATS keeps temporary queues on core NATS, without
 * topics) a durable queue, which its owner deletes when it closes.
 *
 * @example
 * ```ts
 * await declareListenerQueue(transport, 'missive-catalog-1a2b', ['missive-catalog.announced']);
 * ```
 * @module
 */
import { ConfigurationError, type Transport } from '@missive/core';

/** Declares `name` bound to `topics`; resolves whether it is temporary. */
export async function declareListenerQueue(transport: Transport, name: string, topics: readonly string[]): Promise<boolean> {
  try {
    await transport.declare({ name, topics, temporary: true });
    return true;
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    await transport.declare({ name, topics });
    return false;
  }
}
