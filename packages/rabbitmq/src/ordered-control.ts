/**
 * The control channel of an ordered consumer: the instances of an ordered endpoint tell each other
 * to rebalance their partitions now (rather than at their next timer tick) by publishing their id
 * to `missive.control` with the endpoint's queue as routing key. Each instance listens on an
 * exclusive, auto-deleted queue bound to that key, and ignores its own announcements.
 *
 * @example
 * ```ts
 * const control = await ControlChannel.open(connection, 'accounts', id, () => ticker.kick());
 * control.announce(); // the other instances of 'accounts' rebalance
 * ```
 * @module
 */
import type * as amqp from 'amqplib';
import { CONTROL_EXCHANGE } from './partitions.js';

/** One instance's control channel for one ordered endpoint. */
export class ControlChannel {
  private constructor(
    private readonly channel: amqp.Channel,
    private readonly queue: string,
    private readonly id: string,
  ) {}

  /** Opens it on `connection`: `onOther` runs whenever another instance of `queue` announces itself. */
  static async open(connection: amqp.ChannelModel, queue: string, id: string, onOther: () => void): Promise<ControlChannel> {
    const control = await connection.createChannel();
    control.on('error', () => undefined);
    const { queue: listen } = await control.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
    await control.bindQueue(listen, CONTROL_EXCHANGE, queue);
    await control.consume(
      listen,
      (message) => {
        if (message !== null && message.content.toString() !== id) onOther();
      },
      { noAck: true },
    );
    return new ControlChannel(control, queue, id);
  }

  /** Tells the endpoint's other instances to rebalance now. */
  announce(): void {
    try {
      this.channel.publish(CONTROL_EXCHANGE, this.queue, Buffer.from(this.id));
    } catch {
      /* the control channel is closing: the others rebalance on their timers */
    }
  }

  /** Closes the channel (its queue goes with it); never rejects. */
  close(): Promise<void> {
    return this.channel.close().catch(() => undefined);
  }
}
