import { it } from 'vitest';
import pg from 'pg';
import { brokersRequired, describeStoreConformance } from '@missive/testing/vitest';
import { PostgresMessageStore, type PgTx } from './pg-message-store.js';
import { dropSchema, postgresUnavailable, postgresUrl, uniqueSchema } from './test-support/database.js';

const unavailable = await postgresUnavailable();
const pools = new Map<object, { pool: pg.Pool; schema: string }>();

if (unavailable !== undefined && !brokersRequired()) {
  it.skip(`store conformance: postgres (${unavailable}; set MISSIVE_REQUIRE_BROKERS=1 to fail instead)`, () => undefined);
} else {
  describeStoreConformance<PgTx>({
    name: 'postgres',
    async create() {
      const schema = uniqueSchema('store');
      // The business table `kv` lives in the store's schema, found through the connections' search_path.
      const pool = new pg.Pool({ connectionString: postgresUrl, max: 4, options: `-c search_path=${schema}` });
      const store = new PostgresMessageStore({ pool, schema });
      await store.init();
      await pool.query('create table kv (key text primary key, value text not null)');
      pools.set(store, { pool, schema });
      return store;
    },
    // Synchronous, as the suite writes it: the commit waits for the statements issued through tx.query.
    write: (tx, key, value) =>
      void tx.query('insert into kv (key, value) values ($1, $2) on conflict (key) do update set value = excluded.value', [key, value]),
    async read(store, key) {
      const { rows } = await pools.get(store)!.pool.query<{ value: string }>('select value from kv where key = $1', [key]);
      return rows[0]?.value;
    },
    async destroy(store) {
      const { pool, schema } = pools.get(store)!;
      await pool.end();
      await dropSchema(schema);
    },
  });
}
