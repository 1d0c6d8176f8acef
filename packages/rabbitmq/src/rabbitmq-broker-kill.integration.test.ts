/**
 * The broker-kill fault scenario on a RabbitMQ node of the test's own (a free port): SIGKILLed and
 * started again twice under 100 parallel publishers; the total-queue checker finds nothing lost.
 * Heavy: runs under `npm run chaos`. Needs root to start the node; skipped saying so otherwise.
 */
import { randomBytes } from 'node:crypto';
import { chaosEnabled, describeFaultScenarios } from '@missive/testing/vitest';
import { RabbitMqTransport } from './rabbitmq-transport.js';
import { privateNodeUnavailable, startPrivateNode } from './test-support/private-node.js';

describeFaultScenarios(
  {
    name: 'rabbitmq (own node)',
    features: { brokerRestart: true },
    unavailable: privateNodeUnavailable,
    async setup() {
      const node = await startPrivateNode({ name: `missive-broker-kill-${randomBytes(3).toString('hex')}` });
      return {
        url: node.url,
        // Publishes wait for the restarted broker (about 10 s here) rather than failing.
        connect: () => new RabbitMqTransport({ url: node.url, publishTimeoutMs: 120_000, maxBuffered: 20_000 }),
        broker: node,
        teardown: () => node.stop(),
      };
    },
  },
  // The broker kill (heavy) and, under npm run chaos, the restart of an idle broker.
  { only: (name) => name.includes('broker SIGKILLed') || (chaosEnabled() && name.includes('(SIGKILL, started again)')) },
);
