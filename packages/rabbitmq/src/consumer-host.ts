/**
 * What the transport's consumers and dead-letter store need of it: the live connection's generation
 * and channels, and republishing. The transport implements it; the consumers see only this, so they
 * do not import the transport (no import cycle between them).
 *
 * @example
 * ```ts
 * const consumer = new RabbitConsumer(host, 'billing', 10); // host: the transport
 * ```
 * @module
 */
import type * as amqp from 'amqplib';
import type { Logger, TransportMessage } from '@missive/core';

/** Publishing on the transport's confirm channel (see `rabbitmq-publisher.ts`). */
export interface Republisher {
  /**
   * Publishes with a confirm: resolves when the broker confirmed; rejects with `UnroutableError`
   * (mandatory and returned), `PublishRejectedError` (nacked for longer than `publishTimeout`) or
   * `TransportError` (the connection did not come back in time).
   */
  confirmPublish(
    exchange: string,
    routingKey: string,
    message: TransportMessage,
    headers: Readonly<Record<string, unknown>>,
    mandatory: boolean,
    destination: string,
  ): Promise<void>;
  /** Sends to the delay queue of the delay's bucket; it comes back through `missive.delay.return` by `routingKey`. */
  publishDelayed(routingKey: string, message: TransportMessage, delayMs: number, headers?: Readonly<Record<string, string>>): Promise<void>;
}

/** What a consumer needs of the transport. */
export interface ConsumerHost extends Republisher {
  readonly logger: Logger;
  /** Grows with every (re)connection; deliveries of older generations are stale (settling them is a no-op). */
  readonly generation: number;
  /** Whether `connection` is the transport's current connection (not one that was lost). */
  isConnection(connection: amqp.ChannelModel): boolean;
  /** The admin channel, waiting (within the outage limits) while the connection is down. */
  adminChannelNow(): Promise<amqp.Channel>;
  /** The consumer is closed and its channels are: the transport no longer resumes or shuts it down. */
  forget(consumer: object): void;
}

/** What the dead-letter store needs of the transport. */
export interface DeadLetterHost extends Republisher {
  /** A fresh channel on the current connection. */
  newChannel(): Promise<amqp.Channel>;
  queueExists(name: string): Promise<boolean>;
}
