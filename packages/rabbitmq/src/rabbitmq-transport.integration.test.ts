import { connect } from 'node:net';
import { describeTransportConformance } from '@missive/testing';
import { RabbitMqTransport } from './rabbitmq-transport.js';

const url = process.env.MISSIVE_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** Whether something listens at the broker's address. */
export function reachable(target: string): Promise<boolean> {
  const parsed = new URL(target);
  return new Promise((resolve) => {
    const socket = connect({ host: parsed.hostname, port: Number(parsed.port || 5672) });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.setTimeout(2000, () => (socket.destroy(), resolve(false)));
  });
}

describeTransportConformance({
  name: 'rabbitmq',
  features: { processes: true, orderingKeys: false, cancelScheduled: false },
  unavailable: async () => ((await reachable(url)) ? undefined : `RabbitMQ not reachable at ${new URL(url).host}`),
  setup: () => ({ url, connect: () => new RabbitMqTransport({ url }) }),
});
