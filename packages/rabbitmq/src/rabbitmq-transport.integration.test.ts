import { describeTransportConformance } from '@missive/testing/vitest';
import { RabbitMqTransport } from './rabbitmq-transport.js';
import { rabbitUrl as url } from './test-support/broker.js';
import { reachable } from './test-support/reachable.js';

describeTransportConformance({
  name: 'rabbitmq',
  // AMQP reports consumers of a queue, never since when it has had none.
  features: { processes: true, idleSince: false },
  unavailable: async () => ((await reachable(url)) ? undefined : `RabbitMQ not reachable at ${new URL(url).host}`),
  setup: () => ({ url, connect: () => new RabbitMqTransport({ url }) }),
});
