import { describeTransportConformance } from '@missive/testing/vitest';
import { RabbitMqTransport } from './rabbitmq-transport.js';
import { rabbitUrl as url } from './test-support/broker.js';
import { reachable } from './test-support/reachable.js';

describeTransportConformance({
  name: 'rabbitmq',
  // AMQP reports consumers of a queue, never since when it has had none.
  features: { processes: true, idleSince: false },
  // Cases wait on broker round trips far more than they use the CPU: five at a time take a third of the time.
  concurrent: true,
  unavailable: async () => ((await reachable(url)) ? undefined : `RabbitMQ not reachable at ${new URL(url).host}`),
  setup: () => ({ url, connect: () => new RabbitMqTransport({ url }) }),
});
