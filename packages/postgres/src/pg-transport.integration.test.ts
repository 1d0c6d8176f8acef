import { describeTransportConformance } from '@missive/testing';
import { PostgresTransport } from './pg-transport.js';
import { dropSchema, postgresUnavailable, postgresUrl, uniqueSchema, urlWith } from './test-support/database.js';

describeTransportConformance({
  name: 'postgres',
  features: { processes: true },
  unavailable: () => postgresUnavailable(),
  setup(clock) {
    const schema = uniqueSchema('conf');
    return {
      url: urlWith({ schema, lease: 1000, poll: 100 }),
      connect: () => new PostgresTransport({ connectionString: postgresUrl, schema, leaseMs: 1000, pollMs: 100 }, { clock }),
      teardown: () => dropSchema(schema),
    };
  },
});
