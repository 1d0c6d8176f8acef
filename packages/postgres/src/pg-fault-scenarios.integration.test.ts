import { chaosEnabled, describeFaultScenarios } from '@missive/testing/vitest';
import { PostgresTransport } from './pg-transport.js';
import { dropSchema, postgresUnavailable, postgresUrl, uniqueSchema, urlWith } from './test-support/database.js';
import { ownServerUnavailable, startOwnServer } from './test-support/own-server.js';

// The shared server. Not claimed: a full disk (the shared server's disk is not the test's to
// fill). leases: a blocked process's lease (2 s) expires and another instance claims the row.
describeFaultScenarios(
  {
    name: 'postgres',
    // halfOpen under npm run chaos only: it passed in npm test runs (2.3-2.7 s) but timed out once in a
    // chaos run on a loaded machine (not yet explained; see docs/RELIABILITY.md).
    features: { processes: true, networkFaults: true, halfOpen: chaosEnabled(), leases: true },
    unavailable: () => postgresUnavailable(),
    setup(clock) {
      const schema = uniqueSchema('faults');
      const target = new URL(postgresUrl);
      return {
        url: urlWith({ schema, lease: 2000, poll: 100, pool: 4 }),
        connect: () => new PostgresTransport({ connectionString: postgresUrl, schema, leaseMs: 2000, pollMs: 100, poolSize: 4 }, { clock }),
        network: {
          host: target.hostname,
          port: Number(target.port || 5432),
          connect: (port) => {
            const via = new URL(postgresUrl);
            via.port = String(port);
            return new PostgresTransport(
              { connectionString: via.href, schema, leaseMs: 2000, pollMs: 100, poolSize: 4, reconnectMs: 10_000 },
              { clock },
            );
          },
          // The listener checks its connection (the liveness lock) once a second; reconnects back off to 2 s.
          heartbeatMs: 1000,
          reconnectCapMs: 2000,
          // Found by the outage scenario (2026-11-29): each waiting publish retries on a new connection
          // with its own backoff: 1,000 waiting publishes made 873 connection attempts in 3 s, 300 made 982 in 2 s.
          unboundedReconnects: 'each waiting operation makes its own connection attempts (hundreds a second while publishes wait)',
        },
        teardown: () => dropSchema(schema),
      };
    },
  },
  {
    // npm test: the poison message, competing workers, the outage, the idle restart and the blocked
    // loop (the process cases of the conformance suite run here too); the rest under npm run chaos.
    ci: (name) => /poison|x 400 jobs|broker down|restarted while idle|blocking/.test(name),
  },
);

// A server of its own to crash (immediate shutdown) and start again: the restart of an idle server
// (under npm run chaos: starting a server costs CI time).
if (chaosEnabled())
  describeFaultScenarios(
    {
      name: 'postgres (own server)',
      features: { brokerRestart: true },
      unavailable: ownServerUnavailable,
      async setup(clock) {
        const server = await startOwnServer();
        return {
          url: urlWith({ schema: 'missive' }, server.url),
          connect: () =>
            new PostgresTransport({ connectionString: server.url, schema: 'missive', leaseMs: 2000, pollMs: 100, poolSize: 4 }, { clock }),
          broker: { kill: () => server.stop('immediate'), start: () => server.start() },
          teardown: () => server.destroy(),
        };
      },
    },
    { only: (name) => name.includes('(SIGKILL, started again)') },
  );
