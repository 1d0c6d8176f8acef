/**
 * The whole conformance suite again with the bus writing CloudEvents binary content mode
 * (`contentMode=binary`: the data as the payload, the attributes in `ce-` headers), so every case
 * that goes through a bus (tracing, retries, dead letters, request/reply, ordering) runs on it.
 */
import { describeTransportConformance } from '@missive/testing/vitest';
import { NatsTransport } from './nats-transport.js';
import { natsUrl, natsUrlFor, reachable, removePrefix, uniquePrefix } from './test-support/server.js';

describeTransportConformance({
  name: 'nats, binary content mode',
  features: { processes: true },
  unavailable: async () => ((await reachable(natsUrl)) ? undefined : `NATS not reachable at ${new URL(natsUrl).host}`),
  setup: () => {
    const url = natsUrlFor(uniquePrefix(), { ackWait: '3000', contentMode: 'binary' });
    return { url, connect: () => new NatsTransport({ url }), teardown: () => removePrefix(url) };
  },
});
