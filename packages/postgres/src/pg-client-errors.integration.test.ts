/**
 * A connection lost while its pool client is checked out: the statement under way fails, and the
 * process sees no uncaught exception (vitest fails a run on one). Without the guard, node-postgres
 * emits `error` on the checked-out client with no listener, which crashes a service.
 */
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { guardClientErrors } from './pg-client-errors.js';
import { needPostgres, postgresUrl, sql } from './test-support/database.js';

describe('guardClientErrors', () => {
  it('a checked-out client whose backend is terminated rejects its statement and raises no uncaught error', async (ctx) => {
    if (!(await needPostgres(ctx))) return;
    const pool = guardClientErrors(new pg.Pool({ connectionString: postgresUrl, max: 1 }));
    pool.on('error', () => undefined);
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      const client = await pool.connect();
      const pid = (client as unknown as { processID: number }).processID;
      const sleeping = client.query('select pg_sleep(30)').then(
        () => 'finished',
        (error: Error) => error.message,
      );
      await sql('select pg_terminate_backend($1)', [pid]);
      expect(await sleeping).toMatch(/terminat/);
      client.release(true);
      // The pool goes on with a new connection.
      expect((await pool.query<{ one: number }>('select 1 as one')).rows).toEqual([{ one: 1 }]);
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
      await pool.end();
    }
  });
});
