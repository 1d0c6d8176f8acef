import { describeFaultScenarios } from '@missive/testing/vitest';
import { RabbitMqTransport } from './rabbitmq-transport.js';
import { rabbitUrl as url } from './test-support/broker.js';
import { reachable } from './test-support/reachable.js';

describeFaultScenarios({
  name: 'rabbitmq',
  features: { processes: true },
  unavailable: async () => ((await reachable(url)) ? undefined : `RabbitMQ not reachable at ${new URL(url).host}`),
  setup: () => ({ url, connect: () => new RabbitMqTransport({ url }) }),
});
