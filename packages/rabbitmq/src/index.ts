/// <reference types="node" preserve="true" />
/**
 * `@missive/rabbitmq`: the RabbitMQ transport. Chosen by `amqp://` and `amqps://` URLs.
 *
 * @example
 * ```ts
 * const bus = createBus({ service: 'shop', transport: 'amqp://guest:guest@127.0.0.1:5672' });
 * ```
 * @module
 */
import type { TransportFactory } from '@missive/core/transport';
import { RabbitMqTransport } from './rabbitmq-transport.js';

export { RabbitMqTransport, delayBucket, type RabbitMqDeps } from './rabbitmq-transport.js';
export { resolveRabbitMqOptions, type RabbitMqOptions, type ResolvedRabbitMqOptions } from './rabbitmq-options.js';

/** Creates the transport for an `amqp://` or `amqps://` URL. */
export const createTransport: TransportFactory = (url, options) => new RabbitMqTransport({ url: url.href }, { logger: options.logger });
