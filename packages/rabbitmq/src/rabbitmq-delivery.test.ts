/**
 * A RabbitMQ delivery's ack is queued for the consumer's batched write: by the time `ack` returns it
 * is handed off, so it returns the transport kit's `SETTLED` and the bus goes on without a promise
 * reaction per message (with the OpenTelemetry Node SDK's context manager on, every promise of the
 * process pays its hook).
 */
import type * as amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { SETTLED } from '@missive/core/transport';
import type { ConsumerHost } from './consumer-host.js';
import { RabbitDelivery, type DeliveryOwner } from './rabbitmq-delivery.js';

function raw(tag: number): amqp.ConsumeMessage {
  return {
    content: Buffer.from('{}'),
    fields: { deliveryTag: tag, redelivered: false, consumerTag: 'c', exchange: '', routingKey: 'billing' },
    properties: { messageId: `m-${tag}`, type: 't', headers: {} },
  } as unknown as amqp.ConsumeMessage;
}

function owner(channel: amqp.Channel) {
  const events: string[] = [];
  const consumer: DeliveryOwner = {
    transport: { generation: 1 } as ConsumerHost,
    queue: 'billing',
    isCurrent: (c) => c === channel,
    settled: (d) => void events.push(`settled ${d.tag}`),
    toBroker: (d, ack) => void events.push(`${ack ? 'ack' : 'requeue'} ${d.tag}`),
    finished: (d) => void events.push(`finished ${d.tag}`),
  };
  return { consumer, events };
}

describe('rabbitmq delivery', () => {
  it("an ack queues the broker's ack and returns SETTLED; a second settle does nothing", async () => {
    const channel = {} as amqp.Channel;
    const { consumer, events } = owner(channel);
    const delivery = new RabbitDelivery(consumer, channel, raw(7), 1);
    expect(delivery.ack()).toBe(SETTLED);
    expect(events).toEqual(['settled 7', 'ack 7', 'finished 7']);
    await delivery.nack();
    expect(events).toEqual(['settled 7', 'ack 7', 'finished 7']);
  });

  it('an ack of a stale channel (a replaced one) sends nothing and is still SETTLED', () => {
    const { consumer, events } = owner({} as amqp.Channel);
    const delivery = new RabbitDelivery(consumer, {} as amqp.Channel, raw(8), 1);
    expect(delivery.ack()).toBe(SETTLED);
    expect(events).toEqual(['settled 8', 'finished 8']);
  });
});
