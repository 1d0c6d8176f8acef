/**
 * The raw amqplib baseline with Missive's guarantees on RabbitMQ: a durable topic exchange, a durable
 * queue of the same type as Missive's (quorum by default), persistent messages, a confirm channel
 * (publish resolves on the broker's ack), a consumer channel with the same prefetch and manual acks
 * after the handler. The body is the JSON of the payload; nothing is validated.
 *
 * Subject args: `queueType` (`quorum` | `classic`); `ackPerTurn` (acks of one event-loop turn as one
 * `multiple` ack, which is how Missive's RabbitMQ consumer sends them; default: one ack per message).
 * Exchange `bench.raw`, routing key `bench.<name>`.
 * @module
 */
import amqp from 'amqplib';
import { AMQP_URL } from '../harness/machine.js';
import type { Order } from '../harness/payload.js';
import type { CreateConsumer, CreatePublisher, SubjectArgs } from '../harness/subject.js';

const EXCHANGE = 'bench.raw';

export const createPublisher: CreatePublisher = async (args) => {
  const connection = await amqp.connect(AMQP_URL);
  const channel = await connection.createConfirmChannel();
  await channel.assertExchange(EXCHANGE, 'topic', { durable: true });
  const routingKey = `bench.${args.name}`;
  let n = 0;
  return {
    publish: (order) =>
      new Promise<void>((resolve, reject) => {
        channel.publish(
          EXCHANGE,
          routingKey,
          Buffer.from(JSON.stringify(order)),
          { persistent: true, contentType: 'application/json', messageId: String(++n) },
          (error: unknown) => (error === null || error === undefined ? resolve() : reject(new Error('nacked by the broker'))),
        );
      }),
    close: async () => {
      await channel.close();
      await connection.close();
    },
  };
};

export const createConsumer: CreateConsumer = async (args, onMessage) => {
  const connection = await amqp.connect(AMQP_URL);
  const channel = await connection.createChannel();
  await channel.assertExchange(EXCHANGE, 'topic', { durable: true });
  await channel.assertQueue(args.name, {
    durable: true,
    arguments: { 'x-queue-type': args['queueType'] === 'classic' ? 'classic' : 'quorum' },
  });
  await channel.bindQueue(args.name, EXCHANGE, `bench.${args.name}`);
  await channel.prefetch(args.prefetch);
  // With `ackPerTurn`, the acks of one event-loop turn go out as one `multiple` ack, as Missive's do:
  // messages are handled in delivery order here, so the last one handled covers all before it.
  const perTurn = args['ackPerTurn'] === true;
  let last: amqp.Message | undefined;
  const flush = (): void => {
    const message = last;
    last = undefined;
    if (message !== undefined) channel.ack(message, true);
  };
  await channel.consume(
    args.name,
    (message) => {
      if (message === null) return;
      onMessage(JSON.parse(message.content.toString('utf8')) as Order);
      if (!perTurn) {
        channel.ack(message);
        return;
      }
      if (last === undefined) setImmediate(flush);
      last = message;
    },
    { noAck: false },
  );
  return {
    close: async () => {
      await channel.close();
      await connection.close();
    },
  };
};

export async function cleanup(args: SubjectArgs): Promise<void> {
  const connection = await amqp.connect(AMQP_URL);
  const channel = await connection.createChannel();
  await channel.deleteQueue(args.name);
  await connection.close();
}
