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

// The shared server (no persistence). Not claimed: a full disk (the shared server is in memory).
// leases: a blocked process's pending entries are claimed by another after claimIdle (3 s).
// halfOpen: with timeout=3000 a connection is pinged every 750 ms and taken for dead after 3 s
// without a byte received, so a blackholed link is noticed within 3.75 s (see redis-liveness.ts).
// Not shorter: a test process flooded after the 30 s outage stalled its event loop past 2 s under
// load, which a 2 s timeout took for a dead link (a reconnect, and resent publishes delivered twice).
describeFaultScenarios(
  {
    name: 'redis',
    features: { processes: true, networkFaults: true, halfOpen: true, leases: true },
    unavailable: async () => ((await reachable(redisUrl)) ? undefined : `Redis not reachable at ${new URL(redisUrl).host}`),
    setup(clock) {
      const prefix = uniquePrefix();
      const url = `${redisUrl}?prefix=${prefix}&claimIdle=3000&poll=50&timeout=3000`;
      const target = new URL(redisUrl);
      return {
        url,
        connect: () => new RedisTransport({ url }, { clock }),
        network: {
          host: target.hostname,
          port: Number(target.port || 6379),
          connect: (port) =>
            new RedisTransport({ url: urlAt(redisUrl, port, { prefix, claimIdle: '3000', poll: '50', timeout: '3000' }) }, { clock }),
          // Pings every 750 ms, dead after 3 s of silence (noticed within 3.75 s): counted as a 1.5 s heartbeat, so the
          // scenario's limit (three heartbeats and 2 s: 6.5 s) is well above the bound. Reconnects back off from 50 ms to 2 s, with jitter.
          heartbeatMs: 1500,
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
