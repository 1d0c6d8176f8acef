import { describeTransportConformance } from '@missive/testing/vitest';
import { NatsTransport } from './nats-transport.js';
import { natsUrl, natsUrlFor, reachable, removePrefix, uniquePrefix } from './test-support/server.js';

describeTransportConformance({
  name: 'nats',
  features: { processes: true },
  unavailable: async () => ((await reachable(natsUrl)) ? undefined : `NATS not reachable at ${new URL(natsUrl).host}`),
  setup: () => {
    const url = natsUrlFor(uniquePrefix(), { ackWait: '3000' });
    return { url, connect: () => new NatsTransport({ url }), teardown: () => removePrefix(url) };
  },
});
