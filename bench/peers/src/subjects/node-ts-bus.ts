/**
 * @node-ts/bus with @node-ts/bus-rabbitmq. Its transport publishes on a plain channel (no publisher
 * confirms) without `persistent`, and consumes with `basic.get` polling, one message per worker at a
 * time; none of that can be configured, so it runs as it ships. `withConcurrency(args.concurrency)`.
 *
 * @module
 */
import { Bus } from '@node-ts/bus-core';
import { Event } from '@node-ts/bus-messages';
import nodeTsRabbit from '@node-ts/bus-rabbitmq';
import amqp from 'amqplib';
import { AMQP_URL } from '../../../dist/harness/machine.js';
import type { Order } from '../../../dist/harness/payload.js';
import type { CreateConsumer, CreatePublisher, SubjectArgs } from '../../../dist/harness/subject.js';

const { RabbitMqTransport } = nodeTsRabbit;

function eventClass(args: SubjectArgs) {
  const name = `bench.${args.name}`;
  return class OrderPlaced extends Event {
    readonly $name = name;
    readonly $version = 1;
    constructor(readonly order?: Order) {
      super();
    }
  };
}

const transportFor = (args: SubjectArgs) => new RabbitMqTransport({ queueName: args.name, connectionString: AMQP_URL, maxRetries: 3 });

export const createPublisher: CreatePublisher = async (args) => {
  const OrderPlaced = eventClass(args);
  const bus = Bus.configure().withTransport(transportFor(args)).asSendOnly().build();
  await bus.initialize();
  return {
    publish: (order) => bus.publish(new OrderPlaced(order)),
    close: () => bus.dispose(),
  };
};

export const createConsumer: CreateConsumer = async (args, onMessage) => {
  const OrderPlaced = eventClass(args);
  const bus = Bus.configure()
    .withTransport(transportFor(args))
    .withConcurrency(args.concurrency)
    .withHandler({ messageType: OrderPlaced, messageHandler: (event: InstanceType<typeof OrderPlaced>) => onMessage(event.order!) })
    .build();
  await bus.initialize();
  await bus.start();
  return { close: () => bus.dispose() };
};

export async function cleanup(args: SubjectArgs): Promise<void> {
  const connection = await amqp.connect(AMQP_URL);
  const channel = await connection.createChannel();
  // `dead-letter` is @node-ts/bus's default dead-letter queue, shared by every service using it.
  for (const queue of [args.name, `${args.name}-retry`, 'dead-letter']) await channel.deleteQueue(queue);
  for (const exchange of [`bench.${args.name}`, args.name, `${args.name}-retry`]) await channel.deleteExchange(exchange);
  await connection.close();
}
