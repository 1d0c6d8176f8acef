/**
 * Where the order saga keeps its instances, outbox and inbox on PostgreSQL: a schema per run,
 * `shop_order_<run>`, named after the run's data directory. The launcher drops it once every
 * service has exited (the run's report was made before), so runs on a shared database leave
 * nothing behind.
 *
 * @example
 * ```ts
 * const schema = orderSchema('/tmp/shop/2026-11-30T06-59-07-741Z'); // 'shop_order_2026_11_30t06_59_07_741z'
 * await dropOrderSchema('postgres://postgres@127.0.0.1:5432/test', dataDir);
 * ```
 * @module
 */
import { basename } from 'node:path';

/** The order store's schema for the run whose data directory is `dataDir`. */
export function orderSchema(dataDir: string): string {
  return `shop_order_${basename(dataDir)
    .replace(/[^0-9a-z]/gi, '_')
    .toLowerCase()}`;
}

/** Drops the run's order schema when the bus runs on PostgreSQL (`url`); does nothing otherwise. */
export async function dropOrderSchema(url: string, dataDir: string): Promise<void> {
  if (!url.startsWith('postgres')) return;
  const { PostgresMessageStore, postgresOptionsFromUrl } = await import('@missive/postgres');
  const schema = orderSchema(dataDir);
  const store = new PostgresMessageStore({ connectionString: postgresOptionsFromUrl(new URL(url)).connectionString, schema });
  try {
    await store.pool.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await store.close();
  }
}
