/**
 * `@missive/redis`'s transport without the bus: what the transport itself costs, apart from the
 * bus's envelope, schema checks and consume pipeline. The publisher publishes the JSON of the
 * payload as the body (no envelope) on the topic `bench.<name>`; the consumer's queue `<name>` is
 * bound to it, and each delivery is parsed, handed over and acked in the order read (as the raw
 * ioredis subject does). Same guarantees as the full transport: routed and version-checked
 * publishes, reclaimable deliveries, acks that never settle a reclaimed copy.
 *
 * Subject args: `url` (`redis://…?prefix=…`).
 * @module
 */
import { randomUUID } from 'node:crypto';
import { RedisTransport } from '@missive/redis';
import type { Order } from '../harness/payload.js';
import type { CreateConsumer, CreatePublisher, SubjectArgs } from '../harness/subject.js';

const topicOf = (args: SubjectArgs) => `bench.${args.name}`;

async function connected(args: SubjectArgs): Promise<RedisTransport> {
  const transport = new RedisTransport({ url: String(args['url']) });
  await transport.connect();
  return transport;
}

export const createPublisher: CreatePublisher = async (args) => {
  const transport = await connected(args);
  const topic = topicOf(args);
  return {
    publish: (order) => transport.publish(topic, { id: randomUUID(), type: topic, body: Buffer.from(JSON.stringify(order)), headers: {} }),
    close: () => transport.close(),
  };
};

export const createConsumer: CreateConsumer = async (args, onMessage) => {
  const transport = await connected(args);
  await transport.declare({ name: args.name, topics: [topicOf(args)] });
  const consumer = transport.consume(args.name, { prefetch: args.prefetch });
  const loop = (async () => {
    for await (const delivery of consumer) {
      const body = delivery.message.body;
      onMessage(JSON.parse((Buffer.isBuffer(body) ? body : Buffer.from(body)).toString()) as Order);
      void delivery.ack();
    }
  })();
  return {
    close: async () => {
      await consumer.close();
      await loop;
      await transport.close();
    },
  };
};

export async function cleanup(args: SubjectArgs): Promise<void> {
  const transport = await connected(args);
  try {
    await transport.deleteQueue(args.name);
  } finally {
    await transport.close();
  }
}
