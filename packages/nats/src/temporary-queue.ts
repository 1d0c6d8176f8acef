/**
 * A temporary queue (a bus's reply queue) on core NATS: a plain subscription of this connection,
 * no stream. A sender's confirmed publish reaches it and is answered with an empty PubAck once the
 * message is in this process, so `send` resolves as it does for a stream; when the owner is gone
 * the server answers "no responders" and `send` fails as unroutable. This is request/reply the NATS
 * way: nothing is stored, and the queue ends with its connection.
 *
 * Settling is local: `ack` and `deadLetter` drop the message, `nack` hands it out again. Its
 * prefetch is not bounded: replies are small and each answers a request this process made.
 *
 * @example
 * ```ts
 * const replies = new TemporaryQueue(nc, 'missive.tmp.shop~replies~1');
 * for await (const d of replies.consume(64)) await d.ack();
 * ```
 * @module
 */
import type { Msg, NatsConnection, Subscription } from 'nats';
import type { TransportMessage } from '@missive/core';
import { BufferedConsumer, SettleOnceDelivery, withHeaders, type NackOptions } from '@missive/core/transport';
import { decodeMessage, UnreadableHeaderError, unreadableMessage } from './message-codec.js';

const ACCEPTED = new TextEncoder().encode('{"stream":"","seq":0}');

class LocalDelivery extends SettleOnceDelivery {
  constructor(
    private readonly queue: TemporaryQueue,
    readonly message: TransportMessage,
    readonly deliveryCount: number,
    readonly unreadable?: string,
  ) {
    super(queue);
  }

  protected onAck(): Promise<void> {
    return Promise.resolve();
  }

  protected onNack(options: NackOptions): Promise<void> {
    this.queue.enqueue(withHeaders(this.message, options.headers ?? this.message.headers), this.deliveryCount + 1, this.unreadable);
    return Promise.resolve();
  }

  protected onDeadLetter(): Promise<void> {
    return Promise.resolve();
  }

  drop(): void {
    this.settleOnce();
  }
}

/** One temporary queue of a connection. */
export class TemporaryQueue extends BufferedConsumer<LocalDelivery> {
  private subscription: Subscription | undefined;

  constructor(nc: NatsConnection, subject: string) {
    super('nats', Number.MAX_SAFE_INTEGER);
    this.subscription = nc.subscribe(subject, {
      callback: (_error, msg: Msg) => {
        try {
          this.enqueue(decodeMessage(msg.data, msg.headers), 1);
        } catch (error) {
          if (!(error instanceof UnreadableHeaderError)) throw error;
          this.enqueue(unreadableMessage(msg), 1, error.message);
        }
        if (msg.reply) msg.respond(ACCEPTED);
      },
    });
  }

  /** @internal */
  enqueue(message: TransportMessage, deliveryCount: number, unreadable?: string): void {
    this.offer(new LocalDelivery(this, message, deliveryCount, unreadable));
  }

  protected detach(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
  }

  /** Nothing to return to: a temporary queue ends with its connection. */
  protected giveBack(delivery: LocalDelivery): void {
    delivery.drop();
  }
}
