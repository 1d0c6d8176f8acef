import { describeFaultScenarios } from '@missive/testing/vitest';
import { RabbitMqTransport } from './rabbitmq-transport.js';
import { rabbitUrl as url } from './test-support/broker.js';
import { reachable } from './test-support/reachable.js';

/** `url` with another port and query parameters (heartbeat in seconds, publish buffer and timeout). */
function urlWith(port: number | undefined, params: Record<string, string>): string {
  const u = new URL(url);
  if (port !== undefined) u.port = String(port);
  for (const [key, value] of Object.entries(params)) u.searchParams.set(key, value);
  return u.href;
}

// Not claimed: a full disk (RabbitMQ's disk alarm blocks publishers on the shared broker: the
// disruptive `rabbitmq-broker.disruptive.test.ts` covers it). The broker kill and the restart of
// an idle broker run on a node of their own (`rabbitmq-broker-kill.integration.test.ts`).
describeFaultScenarios(
  {
    name: 'rabbitmq',
    // leases: RabbitMQ has none, but a process whose event loop is blocked misses its heartbeats
    // (1 s here): the broker drops its connection and hands its deliveries to another instance.
    features: { processes: true, networkFaults: true, halfOpen: true, leases: true },
    unavailable: async () => ((await reachable(url)) ? undefined : `RabbitMQ not reachable at ${new URL(url).host}`),
    setup: () => ({
      url,
      connect: () => new RabbitMqTransport({ url }),
      blockedLoopUrl: urlWith(undefined, { heartbeat: '1' }),
      network: {
        host: new URL(url).hostname,
        port: Number(new URL(url).port || 5672),
        // Heartbeats every second; at most 200 publishes wait for a lost connection, for up to 5 s.
        connect: (port) => new RabbitMqTransport({ url: urlWith(port, { heartbeat: '1' }), maxBuffered: 200, publishTimeoutMs: 5000 }),
        heartbeatMs: 1000,
        reconnectCapMs: 10_000,
        maxBuffered: 200,
      },
    }),
  },
  {
    // npm test: the scenarios it ran before, the outage, the half-open link and the blocked loop; the rest under npm run chaos.
    ci: (name) => !/restarted while idle|16 keys|publishing and consuming|soak/.test(name),
  },
);
