/**
 * Rascal on RabbitMQ with its defaults: confirm channel (`publish` resolves on the broker's ack),
 * persistent messages, manual ack; a durable classic queue bound to a topic exchange, subscription
 * prefetch = `args.prefetch`.
 *
 * @module
 */
import amqp from 'amqplib';
import rascal from 'rascal';
import { AMQP_URL } from '../../../dist/harness/machine.js';
import type { Order } from '../../../dist/harness/payload.js';
import type { CreateConsumer, CreatePublisher, SubjectArgs } from '../../../dist/harness/subject.js';

const EXCHANGE = 'bench.rascal';

function config(args: SubjectArgs) {
  return rascal.withDefaultConfig({
    vhosts: {
      '/': {
        connection: { url: AMQP_URL },
        exchanges: { [EXCHANGE]: { type: 'topic', options: { durable: true } } },
        queues: { [args.name]: { options: { durable: true, arguments: { 'x-queue-type': 'classic' } } } },
        bindings: { b: { source: EXCHANGE, destination: args.name, destinationType: 'queue', bindingKey: `bench.${args.name}` } },
        publications: { orders: { exchange: EXCHANGE, routingKey: `bench.${args.name}`, confirm: true, options: { persistent: true } } },
        subscriptions: { orders: { queue: args.name, prefetch: args.prefetch } },
      },
    },
  });
}

export const createPublisher: CreatePublisher = async (args) => {
  const broker = await rascal.BrokerAsPromised.create(config(args));
  broker.on('error', () => undefined);
  return {
    publish: async (order) => {
      const publication = await broker.publish('orders', order);
      await new Promise<void>((resolve, reject) => {
        publication
          .on('success', () => resolve())
          .on('error', (error: Error) => reject(error))
          .on('return', () => reject(new Error('returned')));
      });
    },
    close: () => broker.shutdown(),
  };
};

export const createConsumer: CreateConsumer = async (args, onMessage) => {
  const broker = await rascal.BrokerAsPromised.create(config(args));
  broker.on('error', () => undefined);
  const subscription = await broker.subscribe('orders');
  subscription.on('message', (_message: unknown, content: Order, ackOrNack: () => void) => {
    onMessage(content);
    ackOrNack();
  });
  subscription.on('error', () => undefined);
  return { close: () => broker.shutdown() };
};

export async function cleanup(args: SubjectArgs): Promise<void> {
  const connection = await amqp.connect(AMQP_URL);
  const channel = await connection.createChannel();
  await channel.deleteQueue(args.name);
  await connection.close();
}
