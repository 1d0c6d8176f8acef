import { describeSagaConformance } from '@missive/testing/vitest';
import { PostgresMessageStore } from './pg-message-store.js';
import { PostgresTransport } from './pg-transport.js';
import { dropSchema, postgresUnavailable, postgresUrl, uniqueSchema } from './test-support/database.js';

const schemas = new Map<object, string>();

describeSagaConformance({
  target: {
    name: 'postgres',
    unavailable: () => postgresUnavailable(),
    setup(clock) {
      const schema = uniqueSchema('saga_bus');
      return {
        connect: () => new PostgresTransport({ connectionString: postgresUrl, schema, pollMs: 100, poolSize: 4 }, { clock }),
        teardown: () => dropSchema(schema),
      };
    },
  },
  createStore() {
    const schema = uniqueSchema('saga_store');
    const store = new PostgresMessageStore({ connectionString: postgresUrl, schema });
    schemas.set(store, schema);
    return store;
  },
  async destroyStore(store) {
    await dropSchema(schemas.get(store)!);
  },
});
