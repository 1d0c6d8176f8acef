import { describeFaultScenarios } from '@missive/testing/vitest';
import { RedisTransport } from './redis-transport.js';
import { ownRedisUnavailable, startOwnRedis } from './test-support/own-redis.js';
import { deletePrefix, reachable, redisUrl, uniquePrefix } from './test-support/redis.js';

/** `base` on another port, with the transport's query parameters. */
function urlAt(base: string, port: number | undefined, params: Record<string, string>): string {
  const u = new URL(base);
  if (port !== undefined) u.port = String(port);
  for (const [key, value] of Object.entries(params)) u.searchParams.set(key, value);
  return u.href;
}

// The shared server (no persistence). Not claimed: a full disk (the shared server is in memory),
// and a half-open connection: neither ioredis nor the transport times out a command on a link that
// drops every packet (the transport's 5 s heartbeat waits forever), so nothing notices it; the
// scenario waited 120 s without a reconnect attempt (see docs/RELIABILITY.md). leases: a blocked
// process's pending entries are claimed by another after claimIdle (3 s).
describeFaultScenarios(
  {
    name: 'redis',
    features: { processes: true, networkFaults: true, leases: true },
    unavailable: async () => ((await reachable(redisUrl)) ? undefined : `Redis not reachable at ${new URL(redisUrl).host}`),
    setup(clock) {
      const prefix = uniquePrefix();
      const url = `${redisUrl}?prefix=${prefix}&claimIdle=3000&poll=50`;
      const target = new URL(redisUrl);
      return {
        url,
        connect: () => new RedisTransport({ url }, { clock }),
        network: {
          host: target.hostname,
          port: Number(target.port || 6379),
          connect: (port) => new RedisTransport({ url: urlAt(redisUrl, port, { prefix, claimIdle: '3000', poll: '50' }) }, { clock }),
          // The transport's own heartbeat (a key it refreshes every 5 s; no timeout); ioredis reconnects after 50 ms x attempt, at most 2 s.
          heartbeatMs: 5000,
          reconnectCapMs: 2000,
        },
        teardown: () => deletePrefix(redisUrl, prefix),
      };
    },
  },
  {
    // npm test: the scenarios it ran before, the outage, the idle restart and the blocked loop; the rest under npm run chaos.
    ci: (name) => !/16 keys|publishing and consuming|soak/.test(name),
  },
);

// A server of its own (AOF, appendfsync always) to SIGKILL: the broker kill under 100 publishers
// (npm run chaos) and the restart of an idle server (npm test).
describeFaultScenarios(
  {
    name: 'redis (own server, AOF)',
    features: { brokerRestart: true },
    unavailable: ownRedisUnavailable,
    async setup(clock) {
      const server = await startOwnRedis();
      const url = urlAt(server.url, undefined, { prefix: uniquePrefix(), claimIdle: '3000', poll: '50', durability: 'fsync' });
      return { url, connect: () => new RedisTransport({ url }, { clock }), broker: server, teardown: () => server.stop() };
    },
  },
  { only: (name) => name.includes('broker SIGKILLed') || name.includes('(SIGKILL, started again)') },
);
