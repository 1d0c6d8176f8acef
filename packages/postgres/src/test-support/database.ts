/**
 * What the PostgreSQL tests share: the server's URL (`MISSIVE_POSTGRES_URL`, else the local one), a
 * check that gives the reason to skip when the server is not there (or fails under
 * `MISSIVE_REQUIRE_BROKERS=1`), unique schema names per run, and dropping them afterwards.
 *
 * @example
 * ```ts
 * const schema = uniqueSchema('conf');
 * await dropSchema(schema);
 * ```
 * @module
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { brokersRequired } from '@missive/testing';

/** The server the tests use. */
export const postgresUrl = process.env.MISSIVE_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A schema name unique to this run. */
export function uniqueSchema(base: string): string {
  return `t_${base}_${randomBytes(5).toString('hex')}`;
}

/** The URL with Missive's schema (and other) parameters. */
export function urlWith(params: Record<string, string | number>, base = postgresUrl): string {
  const url = new URL(base);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, String(v));
  return url.href;
}

/** Why the tests cannot run (the server does not answer), or undefined. */
export async function postgresUnavailable(url = postgresUrl): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
    return undefined;
  } catch (error) {
    return `PostgreSQL not reachable at ${new URL(url).host}: ${(error as Error).message}`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** True when the server answers; otherwise skips the test with the reason, or throws when brokers are required. */
export async function needPostgres(ctx: { skip: (note?: string) => void }, url = postgresUrl): Promise<boolean> {
  const problem = await postgresUnavailable(url);
  if (problem === undefined) return true;
  if (brokersRequired()) throw new Error(`${problem} (MISSIVE_REQUIRE_BROKERS=1)`);
  ctx.skip(`${problem}; set MISSIVE_REQUIRE_BROKERS=1 to fail instead`);
  return false;
}

/** Runs SQL on a fresh connection. */
export async function sql<R extends pg.QueryResultRow = pg.QueryResultRow>(
  text: string,
  values: unknown[] = [],
  url = postgresUrl,
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** Drops a test schema and everything in it. */
export async function dropSchema(schema: string, url = postgresUrl): Promise<void> {
  await sql(`drop schema if exists "${schema}" cascade`, [], url);
}
