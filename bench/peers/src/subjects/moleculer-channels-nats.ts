/**
 * Moleculer 0.14 over NATS: a ServiceBroker without transporter and the @moleculer/channels
 * middleware with its NATS adapter (JetStream, nats.js 2, the package this repository already has).
 * `broker.sendToChannel` is nats.js's `js.publish` (resolves on the PubAck; the message id is passed
 * as `msgID`, so `Nats-Msg-Id` is set as Missive's is); the consumer is a durable push consumer with a
 * queue group, manual acks after the handler, `max_ack_pending` = `maxInFlight` (the prefetch).
 * The stream is made by the consumer's subscribe, file storage, interest retention (as Missive's and
 * the raw baseline's).
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import ChannelsMiddleware from '@moleculer/channels';
import Moleculer from 'moleculer';
import { connect } from 'nats';
import { NATS_URL } from '../../../dist/harness/machine.js';
import type { Order } from '../../../dist/harness/payload.js';
import type { CreateConsumer, CreatePublisher, SubjectArgs } from '../../../dist/harness/subject.js';

const channelOf = (args: SubjectArgs) => `bench.${args.name}`;
const streamOf = (args: SubjectArgs) => channelOf(args).split('.').join('_');

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
          type: 'NATS',
          options: {
            nats: { url: NATS_URL, streamConfig: { retention: 'interest', storage: 'file' } },
            maxInFlight: args.prefetch,
          },
        },
      } as never) as unknown as Moleculer.Middleware,
    ],
  });
}

export const createPublisher: CreatePublisher = async (args) => {
  const broker = brokerFor(args, 'publisher');
  await broker.start();
  const channel = channelOf(args);
  const b = broker as unknown as { sendToChannel: (name: string, payload: unknown, opts: unknown) => Promise<void> };
  const run = randomUUID(); // ids unique across rounds: the duplicate window would drop repeats
  let n = 0;
  return {
    publish: (order) => b.sendToChannel(channel, order, { msgID: `${run}-${n++}` }),
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
  const nc = await connect({ servers: new URL(NATS_URL).host });
  try {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.delete(streamOf(args)).catch(() => undefined);
  } finally {
    await nc.close();
  }
}
