import { describeTransportConformance } from '@missive/testing';
import { RabbitMqTransport } from './rabbitmq-transport.js';
import { reachable } from './test-support/reachable.js';

const url = process.env.MISSIVE_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

describeTransportConformance({
  name: 'rabbitmq',
  features: { processes: true },
  unavailable: async () => ((await reachable(url)) ? undefined : `RabbitMQ not reachable at ${new URL(url).host}`),
  setup: () => ({ url, connect: () => new RabbitMqTransport({ url }) }),
});
