import { chaosEnabled, describeFaultScenarios } from '@missive/testing/vitest';
import { PostgresTransport } from './pg-transport.js';
import { dropSchema, postgresUnavailable, postgresUrl, uniqueSchema, urlWith } from './test-support/database.js';
import { ownServerUnavailable, startOwnServer } from './test-support/own-server.js';

// The shared server. Not claimed: a full disk (the shared server's disk is not the test's to
// fill). leases: a blocked process's lease (2 s) expires and another instance claims the row.
describeFaultScenarios(
  {
    name: 'postgres',
    // halfOpen (under npm run chaos): it timed out once on a loaded machine when nothing noticed the
    // silent link (all pool connections stuck); the listening connection's ping now drops it (pg-link.ts).
    features: { processes: true, networkFaults: true, halfOpen: true, leases: true },
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
              {
                connectionString: via.href,
                schema,
                leaseMs: 2000,
                pollMs: 100,
                poolSize: 4,
                reconnectMs: 10_000,
                maxBuffered: 200,
                heartbeatMs: 1000,
              },
              { clock },
            );
          },
          // The listening connection pings once a second (a silent link is dropped within two pings);
          // one reconnect loop per transport backs off to 1 s (pg-link.ts).
          heartbeatMs: 1000,
          reconnectCapMs: 1000,
          maxBuffered: 200,
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
