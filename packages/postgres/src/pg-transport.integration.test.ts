import { describeTransportConformance } from '@missive/testing/vitest';
import { PostgresTransport } from './pg-transport.js';
import { dropSchema, postgresUnavailable, postgresUrl, uniqueSchema, urlWith } from './test-support/database.js';

const LEASE = Number(process.env.LEASE ?? 3000);
describeTransportConformance({
  name: 'postgres',
  features: { processes: true },
  unavailable: () => postgresUnavailable(),
  setup(clock) {
    const schema = uniqueSchema('conf');
    return {
      url: urlWith({ schema, lease: LEASE, poll: 100, pool: 4 }),
      connect: () => new PostgresTransport({ connectionString: postgresUrl, schema, leaseMs: LEASE, pollMs: 100, poolSize: 4 }, { clock }),
      teardown: () => dropSchema(schema),
    };
  },
});
