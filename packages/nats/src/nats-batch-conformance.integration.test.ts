/**
 * The whole conformance suite again with batch messages on (`batch=64`: the unkeyed publishes and
 * sends of one turn to one subject share a JetStream message, see `batch.ts`), so every case that
 * goes through a bus (retries, dead letters, fan-out, request/reply, ordering, scheduling) runs on it.
 */
import { describeTransportConformance } from '@missive/testing/vitest';
import { NatsTransport } from './nats-transport.js';
import { natsUrl, natsUrlFor, reachable, removePrefix, uniquePrefix } from './test-support/server.js';

describeTransportConformance({
  name: 'nats, batch messages',
  features: { processes: true },
  unavailable: async () => ((await reachable(natsUrl)) ? undefined : `NATS not reachable at ${new URL(natsUrl).host}`),
  setup: () => {
    const url = natsUrlFor(uniquePrefix(), { ackWait: '3000', batch: '64' });
    return { url, connect: () => new NatsTransport({ url }), teardown: () => removePrefix(url) };
  },
});
