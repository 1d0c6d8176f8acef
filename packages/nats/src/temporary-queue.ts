/**
 * A temporary queue (a bus's reply queue) on core NATS: a plain subscription of this connection,
 * no stream. A sender's confirmed publish reaches it and is answered with an empty PubAck once the
 * message is in this process, so `send` resolves as it does for a stream; when the owner is gone
 * the server answers "no responders" and `send` fails as unroutable. This is request/reply the NATS
 * way: nothing is stored, and the queue ends with its connection.
 *
 * Settling is local: `ack` and `deadLetter` drop the message, `nack` hands it out again.
 *
 * @example
 * ```ts
 * const replies = new TemporaryQueue(nc, 'missive.tmp.shop~replies~1');
 * for await (const d of replies.consume(64)) await d.ack();
 * ```
 * @module
 */
import type { Msg, NatsConnection, Subscription } from 'nats';
import { DeliveryBuffer, type Consumer, type Delivery, type TransportMessage } from '@missive/core';
import { decodeMessage } from './message-codec.js';

const ACCEPTED = new TextEncoder().encode('{"stream":"","seq":0}');

class LocalDelivery implements Delivery {
  private settled = false;
  constructor(
    private readonly queue: TemporaryQueue,
    readonly message: TransportMessage,
    readonly deliveryCount: number,
  ) {}

  private take(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.queue.settled(this);
    return true;
  }

  ack(): Promise<void> {
    this.take();
    return Promise.resolve();
  }

  nack(options?: { readonly headers?: Readonly<Record<string, string>> }): Promise<void> {
    if (this.take()) this.queue.enqueue({ ...this.message, headers: options?.headers ?? this.message.headers }, this.deliveryCount + 1);
    return Promise.resolve();
  }

  deadLetter(): Promise<void> {
    this.take();
    return Promise.resolve();
  }
}

/** One temporary queue of a connection. */
export class TemporaryQueue implements Consumer {
  private readonly buffer = new DeliveryBuffer<LocalDelivery>('nats', () => this.close());
  private subscription: Subscription | undefined;

  constructor(nc: NatsConnection, subject: string) {
    this.subscription = nc.subscribe(subject, {
      callback: (_error, msg: Msg) => {
        this.enqueue(decodeMessage(msg.data, msg.headers), 1);
        if (msg.reply) msg.respond(ACCEPTED);
      },
    });
  }

  /** @internal */
  enqueue(message: TransportMessage, deliveryCount: number): void {
    this.buffer.push(new LocalDelivery(this, message, deliveryCount));
  }

  /** @internal */
  settled(delivery: LocalDelivery): void {
    this.buffer.settled(delivery);
  }

  [Symbol.asyncIterator](): AsyncIterator<Delivery> {
    return this.buffer[Symbol.asyncIterator]();
  }

  close(): Promise<void> {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    this.buffer.close();
    return Promise.resolve();
  }
}
