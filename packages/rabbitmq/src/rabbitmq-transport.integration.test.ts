import { afterAll, beforeAll } from 'vitest';
import { describeTransportConformance } from '@missive/testing/vitest';
import { RabbitMqTransport } from './rabbitmq-transport.js';
import { rabbitUrl } from './test-support/broker.js';
import { reachable } from './test-support/reachable.js';
import { privateVhost, type PrivateVhost } from './test-support/vhost.js';

// A vhost of this file's own: every bus of the 52 cases reads a registry of this run only.
let vhost: PrivateVhost | undefined;
beforeAll(async () => void (vhost = await privateVhost(rabbitUrl)), 60_000);
afterAll(() => vhost?.remove());

describeTransportConformance({
  name: 'rabbitmq',
  // AMQP reports consumers of a queue, never since when it has had none.
  features: { processes: true, idleSince: false },
  unavailable: async () => ((await reachable(rabbitUrl)) ? undefined : `RabbitMQ not reachable at ${new URL(rabbitUrl).host}`),
  setup: () => {
    const url = vhost?.url ?? rabbitUrl;
    return { url, connect: () => new RabbitMqTransport({ url }) };
  },
});
