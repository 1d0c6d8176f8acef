/**
 * Moleculer 0.14 with @moleculer/channels over AMQP: a ServiceBroker without transporter, the
 * channels middleware with its AMQP adapter; `broker.sendToChannel` publishes persistent messages
 * to a durable fanout exchange and queue. The adapter publishes on a plain channel (no publisher
 * confirms: `sendToChannel` resolves once the frame is buffered, and throws when amqplib's buffer is
 * full although the frame was buffered, so the publisher waits for `drain` then); `maxInFlight` is
 * the prefetch.
 *
 * @module
 */
import { once, type EventEmitter } from 'node:events';
import ChannelsMiddleware from '@moleculer/channels';
import amqp from 'amqplib';
import Moleculer from 'moleculer';
import { AMQP_URL } from '../../../dist/harness/machine.js';
import type { Order } from '../../../dist/harness/payload.js';
import type { CreateConsumer, CreatePublisher, SubjectArgs } from '../../../dist/harness/subject.js';

function brokerFor(args: SubjectArgs, role: string) {
  return new Moleculer.ServiceBroker({
    nodeID: `bench-${role}-${process.pid}`,
    logger: false,
    transporter: null,
    metrics: false,
    tracing: false,
    middlewares: [
      ChannelsMiddleware.Middleware({
        adapter: {
          type: 'AMQP',
          options: {
            amqp: {
              url: AMQP_URL,
              exchangeOptions: { durable: true },
              queueOptions: { durable: true },
              messageOptions: { persistent: true },
            },
            maxInFlight: args.prefetch,
          },
        },
      } as never) as unknown as Moleculer.Middleware,
    ],
  });
}

const channelOf = (args: SubjectArgs) => `bench.${args.name}`;

export const createPublisher: CreatePublisher = async (args) => {
  const broker = brokerFor(args, 'publisher');
  await broker.start();
  const channel = channelOf(args);
  const b = broker as unknown as {
    sendToChannel: (name: string, payload: unknown) => Promise<void>;
    channelAdapter: { channel: EventEmitter };
  };
  return {
    // The adapter throws "Write buffer is full" when amqplib's publish returns false, but amqplib has
    // already buffered that message: wait for the channel to drain and count it as sent.
    publish: (order) =>
      b.sendToChannel(channel, order).catch(async (error: Error) => {
        if (!/Write buffer is full/.test(error.message)) throw error;
        await once(b.channelAdapter.channel, 'drain');
      }),
    close: () => broker.stop(),
  };
};

export const createConsumer: CreateConsumer = async (args, onMessage) => {
  const broker = brokerFor(args, 'consumer');
  // `channels` is the middleware's addition to the service schema; Moleculer's types do not know it.
  const schema: Moleculer.ServiceSchema & { channels: unknown } = {
    name: 'bench',
    channels: {
      [channelOf(args)]: {
        group: args.name,
        maxInFlight: args.prefetch,
        handler(payload: Order) {
          onMessage(payload);
        },
      },
    },
  };
  broker.createService(schema);
  await broker.start();
  return { close: () => broker.stop() };
};

export async function cleanup(args: SubjectArgs): Promise<void> {
  const connection = await amqp.connect(AMQP_URL);
  const channel = await connection.createChannel();
  await channel.deleteQueue(`${args.name}.${channelOf(args)}`);
  await channel.deleteExchange(channelOf(args));
  await connection.close();
}
