/**
 * `@missive/nats`'s transport alone, without the bus: the publisher calls `transport.publish` with
 * a message whose body is the JSON of the payload (no envelope, no schema), the consumer iterates
 * `transport.consume` and acks each delivery after the handler. Against the raw pattern it shows
 * what the transport itself costs per message; against the bus on NATS, what the bus adds.
 *
 * Subject args: `url` (a `nats://` URL with its `prefix`); the queue is `args.name`, the topic
 * `bench.<name>`; `transportModule` (optional): the `index.js` of another build of `@missive/nats`.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { NatsTransport } from '@missive/nats';
import type { Order } from '../harness/payload.js';
import type { CreateConsumer, CreatePublisher, SubjectArgs } from '../harness/subject.js';

const topicOf = (args: SubjectArgs) => `bench.${args.name}`;
const NO_HEADERS = Object.freeze({});

async function transportOf(args: SubjectArgs): Promise<NatsTransport> {
  const Transport =
    typeof args['transportModule'] === 'string'
      ? ((await import(pathToFileURL(args['transportModule']).href)) as { NatsTransport: typeof NatsTransport }).NatsTransport
      : NatsTransport;
  const transport = new Transport({ url: String(args['url']) });
  await transport.connect();
  await transport.declare({ name: args.name, topics: [topicOf(args)] });
  return transport;
}

export const createPublisher: CreatePublisher = async (args) => {
  const transport = await transportOf(args);
  const topic = topicOf(args);
  return {
    publish: (order: Order) =>
      transport.publish(topic, { id: randomUUID(), type: topic, body: Buffer.from(JSON.stringify(order)), headers: NO_HEADERS }),
    close: () => transport.close(),
  };
};

export const createConsumer: CreateConsumer = async (args, onMessage) => {
  const transport = await transportOf(args);
  const consumer = transport.consume(args.name, { prefetch: args.prefetch });
  await consumer.ready;
  const loop = (async () => {
    for await (const delivery of consumer) {
      const body = delivery.message.body; // a view, not a copy (as the raw pattern's TextDecoder reads nats.js's)
      onMessage(JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')) as Order);
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
  const transport = new NatsTransport({ url: String(args['url']) });
  await transport.connect();
  try {
    await transport.deleteQueue(args.name);
  } finally {
    await transport.close();
  }
}
