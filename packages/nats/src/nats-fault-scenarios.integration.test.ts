import { chaosEnabled, describeFaultScenarios } from '@missive/testing/vitest';
import { NatsTransport } from './nats-transport.js';
import { startOwnServer } from './test-support/own-server.js';
import { natsUrl, natsUrlFor, reachable, removePrefix, uniquePrefix } from './test-support/server.js';

// The shared server. Not claimed: a full disk (the shared server's store is not the test's to
// fill). Leases: the blocked-loop scenario failed on NATS before the consumer stopped settling a
// delivery whose ack wait may have run out (the blocked process's late ack settled the copy
// JetStream had redelivered to another instance, whose failed first try then never came back);
// see `lapsedNow` in nats-consumer.ts.
describeFaultScenarios(
  {
    name: 'nats',
    // halfOpen under npm run chaos only: the client pings every 5 s, so noticing takes about 15 s.
    features: { processes: true, networkFaults: true, halfOpen: chaosEnabled(), leases: true },
    unavailable: async () => ((await reachable(natsUrl)) ? undefined : `NATS not reachable at ${new URL(natsUrl).host}`),
    setup: () => {
      const prefix = uniquePrefix();
      const url = natsUrlFor(prefix, { ackWait: '3000' });
      const target = new URL(natsUrl);
      return {
        url,
        connect: () => new NatsTransport({ url }),
        network: {
          host: target.hostname,
          port: Number(target.port || 4222),
          connect: (port) =>
            new NatsTransport({ url: natsUrlFor(prefix, { ackWait: '3000', publishTimeout: '3000' }, `nats://127.0.0.1:${port}`) }),
          // The client pings every 5 s and gives up after 2 unanswered; reconnects every 250 ms (+ jitter).
          heartbeatMs: 5000,
          reconnectCapMs: 500,
        },
        teardown: () => removePrefix(url),
      };
    },
  },
  {
    // npm test: the poison message, competing workers, the outage and the idle restart (the process
    // cases of the conformance suite run here too); the rest under npm run chaos.
    ci: (name) => /poison|x 400 jobs|broker down|restarted while idle/.test(name),
  },
);

// A server of its own to SIGKILL: the broker kill under 100 publishers and the restart of an idle
// server (both under npm run chaos: starting a server per case costs CI time).
if (chaosEnabled())
  describeFaultScenarios(
    {
      name: 'nats (own server)',
      features: { brokerRestart: true },
      async setup() {
        const server = await startOwnServer();
        const url = natsUrlFor(uniquePrefix(), { ackWait: '3000', publishTimeout: '30000' }, server.url);
        return {
          url,
          connect: () => new NatsTransport({ url }),
          broker: { kill: () => server.kill('SIGKILL'), start: () => server.start() },
          teardown: () => server.stop(),
        };
      },
    },
    { only: (name) => name.includes('broker SIGKILLed') || name.includes('(SIGKILL, started again)') },
  );
