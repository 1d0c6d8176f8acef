/**
 * `@missive/nats`: the NATS JetStream transport. Chosen by `nats://` URLs (TLS: `?tls=true`).
 *
 * @example
 * ```ts
 * const bus = createBus({ service: 'shop', transport: 'nats://127.0.0.1:4222' });
 * ```
 * @module
 */
import type { TransportFactory } from '@missive/core/transport';
import { NatsTransport } from './nats-transport.js';

export { NatsTransport, type NatsDeps } from './nats-transport.js';
export { resolveNatsOptions, type ContentMode, type NatsOptions, type ResolvedNatsOptions } from './nats-options.js';
export { PARTITIONS, slotOf } from './naming.js';

/** Creates the transport for a `nats://` URL (or a `tls://` one, given as `transports: { tls: createTransport }`). */
export const createTransport: TransportFactory = (url, options) => new NatsTransport({ url: url.href }, { logger: options.logger });
