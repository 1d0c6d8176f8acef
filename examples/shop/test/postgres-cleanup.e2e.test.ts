/**
 * The shop on PostgreSQL leaves nothing behind: the order saga's schema of the run
 * (`shop_order_<run>`, see `src/order-store.ts`) is dropped when the run ends, after its report.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { afterAll, expect, it } from 'vitest';
import { PostgresMessageStore } from '@missive/postgres';
import { brokersRequired, startProcess } from '@missive/testing';
import { orderSchema } from '../src/order-store.js';

const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'main.js');
const postgresUrl = process.env.MISSIVE_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const cleanups: (() => Promise<unknown> | void)[] = [];
afterAll(async () => {
  for (const step of cleanups.splice(0).reverse()) await step();
});

/** Runs `sql` on the test database. */
async function query(sql: string, values: unknown[] = []): Promise<{ rows: Record<string, unknown>[] }> {
  const store = new PostgresMessageStore({ connectionString: postgresUrl, schema: 'public' });
  try {
    return await store.pool.query(sql, values);
  } finally {
    await store.close();
  }
}

it('a run on PostgreSQL drops its order schema when it ends', async (ctx) => {
  try {
    await query('select 1');
  } catch (error) {
    const reason = `PostgreSQL not reachable at ${new URL(postgresUrl).host}: ${(error as Error).message}`;
    if (brokersRequired()) throw new Error(`${reason} (MISSIVE_REQUIRE_BROKERS=1)`);
    ctx.skip(reason);
    return;
  }
  const root = mkdtempSync(join(tmpdir(), 'missive-shop-pg-'));
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  const busSchema = `shop_bus_${randomBytes(4).toString('hex')}`;
  cleanups.push(() => query(`drop schema if exists "${busSchema}" cascade`));
  const url = new URL(postgresUrl);
  url.searchParams.set('schema', busSchema);
  const shop = startProcess(process.execPath, [main, '--orders', '10', '--rate', '20', '--json', '--timeout-s', '90'], {
    env: { SHOP_DATA_ROOT: root, MISSIVE_URL: url.href },
  });
  const code = await shop.exited;
  const report = shop.lines.find((l) => l.startsWith('{'));
  expect(report, `shop printed no report (exit ${String(code)}): ${shop.stderr().slice(-3000)}`).toBeDefined();
  expect((JSON.parse(report!) as { ok: boolean }).ok).toBe(true);
  const [run] = readdirSync(root);
  const schema = orderSchema(join(root, run!));
  cleanups.push(() => query(`drop schema if exists "${schema}" cascade`)); // should there be one left
  expect((await query('select nspname from pg_namespace where nspname = $1', [schema])).rows).toEqual([]);
  expect(code).toBe(0);
}, 180_000);
