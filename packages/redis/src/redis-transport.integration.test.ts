import { describeTransportConformance } from '@missive/testing/vitest';
import { RedisTransport } from './redis-transport.js';
import { deletePrefix, reachable, redisUrl, uniquePrefix } from './test-support/redis.js';

describeTransportConformance({
  name: 'redis',
  // Every ownership and consumer-count case runs: owners in one hash per prefix, consumers from XINFO CONSUMERS.
  features: { processes: true, commandOwners: true, consumerCounts: true, idleSince: true },
  unavailable: async () => ((await reachable(redisUrl)) ? undefined : `Redis not reachable at ${new URL(redisUrl).host}`),
  setup(clock) {
    const prefix = uniquePrefix();
    const url = `${redisUrl}?prefix=${prefix}&claimIdle=3000&poll=50`;
    return {
      url,
      connect: () => new RedisTransport({ url }, { clock }),
      teardown: () => deletePrefix(redisUrl, prefix),
    };
  },
});
