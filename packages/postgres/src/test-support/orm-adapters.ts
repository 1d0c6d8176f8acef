/**
 * The one-line adapters of the package README that let `PostgresOutbox` write through an ORM's
 * interactive transaction (a `SqlExecutor` over the transaction's raw-SQL call), as the README
 * shows them: the ORM tests use these, so the README's code is the tested code.
 *
 * @example
 * ```ts
 * await db.transaction().execute((trx) => outbox.publish(kyselySql(trx), OrderPlaced, { orderId: 'o-1' }));
 * ```
 * @module
 */
import { sql, type SQL } from 'drizzle-orm';
import { CompiledQuery, type Transaction } from 'kysely';
import type { SqlExecutor } from '../pg-outbox.js';

/** Drizzle (node-postgres driver): `db.transaction(async (tx) => { … outbox.publish(drizzleSql(tx), …) })`. */
export const drizzleSql = (tx: { execute(query: SQL): Promise<{ rowCount: number | null }> }): SqlExecutor => ({
  query: (text, values) =>
    tx.execute(sql.join(text.split(/\$(\d+)/).map((part, i) => (i % 2 === 0 ? sql.raw(part) : sql`${values[Number(part) - 1]}`)))),
});

/** Kysely: `db.transaction().execute(async (trx) => { … outbox.publish(kyselySql(trx), …) })`. */
export const kyselySql = <DB>(trx: Transaction<DB>): SqlExecutor => ({
  query: async (text, values) => ({ rowCount: Number((await trx.executeQuery(CompiledQuery.raw(text, values))).numAffectedRows ?? 0) }),
});
