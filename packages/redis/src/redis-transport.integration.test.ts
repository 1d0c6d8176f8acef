import { describeTransportConformance } from '@missive/testing/vitest';
import { RedisTransport } from './redis-transport.js';
import { deletePrefix, reachable, redisUrl, uniquePrefix } from './test-support/redis.js';

describeTransportConformance({
  name: 'redis',
  // No command-owner record yet (Redis can keep one: a Lua script over HSETNX on one hash, see
  // command-owners.ts in @missive/core), and queues() reports no consumers (XINFO CONSUMERS could).
  features: { processes: true, commandOwners: false, consumerCounts: false, idleSince: false },
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
