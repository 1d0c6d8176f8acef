/**
 * One set of cases, every journal store: SQLite (in this thread and from its worker) and
 * PostgreSQL (the shared server on 127.0.0.1:5432, a table of its own per run, dropped after).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { brokersRequired } from '@missive/testing/vitest';
import { TransportError, createBus, silentLogger } from '@missive/core';
import { journal } from './journal.js';
import type { JournalEntry } from './journal-entry.js';
import { JOURNAL_SCHEMA_VERSION } from './journal-schema.js';
import type { JournalStore } from './journal-store.js';
import { PostgresJournalStore } from './postgres-journal-store.js';
import { SqliteJournalStore } from './sqlite-journal-store.js';
import { WorkerJournalStore } from './worker-journal-store.js';

const postgresUrl = process.env.MISSIVE_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const dir = mkdtempSync(join(tmpdir(), 'missive-journal-stores-'));
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

async function postgresUnavailable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    return undefined;
  } catch (error) {
    return `PostgreSQL at 127.0.0.1:5432 unreachable: ${(error as Error).message}`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function row(at: number, conversation: string, step: number, keys: string[], outcome: JournalEntry['outcome'] = 'handled'): JournalEntry {
  return {
    seq: 0,
    at,
    sentAt: at - 1,
    messageId: `m-${conversation}-${step}`,
    type: `t.step-${step}`,
    kind: 'event',
    source: 'a',
    service: 'b',
    endpoint: 'b',
    instance: 'i',
    correlationId: `c-${conversation}`,
    causationId: step === 0 ? undefined : `m-${conversation}-${step - 1}`,
    conversationId: `v-${conversation}`,
    traceId: 'f'.repeat(32),
    attempt: 1,
    outcome,
    durationMs: 2.5,
    reason: outcome === 'dead-lettered' ? 'HANDLER_FAILED' : undefined,
    error: outcome === 'handled' ? undefined : 'Error: boom',
    replayed: false,
    payload: `{"orderId":"${keys[0] ?? ''}"}`,
    keys,
  };
}

const unavailable = await postgresUnavailable();
const stores: [string, () => Promise<JournalStore>][] = [
  ['sqlite', async () => new SqliteJournalStore({ path: join(dir, `${randomBytes(4).toString('hex')}.db`) })],
  ['sqlite, worker thread', async () => new WorkerJournalStore({ path: join(dir, `${randomBytes(4).toString('hex')}.db`) })],
];
if (unavailable === undefined || brokersRequired()) {
  stores.push([
    'postgres',
    async () => {
      const table = `journal_${randomBytes(4).toString('hex')}`;
      const pool = new pg.Pool({ connectionString: postgresUrl, max: 2 });
      cleanups.push(async () => {
        await pool.query(`drop table if exists ${table}; drop table if exists ${table}_keys; drop table if exists ${table}_schema`);
        await pool.end();
      });
      return PostgresJournalStore.open({ pool, table });
    },
  ]);
  describe('journal store: postgres, schema versions', () => {
    const fresh = async () => {
      const table = `journal_${randomBytes(4).toString('hex')}`;
      const pool = new pg.Pool({ connectionString: postgresUrl, max: 2 });
      cleanups.push(async () => {
        await pool.query(`drop table if exists ${table}; drop table if exists ${table}_keys; drop table if exists ${table}_schema`);
        await pool.end();
      });
      const indexes = async () =>
        (await pool.query('select indexname from pg_indexes where tablename = $1', [table])).rows.map((r) => String(r.indexname));
      return { table, pool, indexes };
    };

    it('migrates a table of the first schema (full message-id index) and records its version', async () => {
      const { table, pool, indexes } = await fresh();
      await (await PostgresJournalStore.open({ pool, table })).close();
      await pool.query(
        `drop table ${table}_schema; drop index ${table}_message_id; create index ${table}_message on ${table} (message_id)`,
      );
      await (await PostgresJournalStore.open({ pool, table })).close();
      expect(await indexes()).not.toContain(`${table}_message`);
      expect(await indexes()).toContain(`${table}_message_id`);
      expect((await pool.query(`select version from ${table}_schema`)).rows).toEqual([{ version: JOURNAL_SCHEMA_VERSION }]);
    });

    it('leaves a table of its version or a newer one as it is', async () => {
      const { table, pool, indexes } = await fresh();
      await (await PostgresJournalStore.open({ pool, table })).close();
      // An older process rebuilt its full index: this version leaves it (no flip between them).
      await pool.query(`create index ${table}_message on ${table} (message_id)`);
      await (await PostgresJournalStore.open({ pool, table })).close();
      expect(await indexes()).toContain(`${table}_message`);
      // A newer process's schema, without this version's partial index.
      await pool.query(`drop index ${table}_message_id; update ${table}_schema set version = ${JOURNAL_SCHEMA_VERSION + 1}`);
      const store = await PostgresJournalStore.open({ pool, table });
      expect(await indexes()).not.toContain(`${table}_message_id`);
      await store.append([row(10, 'n', 0, ['order-n'])]);
      expect((await store.conversation('order-n')).map((e) => e.messageId)).toEqual(['m-n-0']);
      await store.close();
    });

    it('a store that cannot be opened fails start naming the journal store, without the password', async () => {
      const url = new URL(postgresUrl);
      url.username = `nobody_${randomBytes(4).toString('hex')}`;
      url.password = 'pa55-never-shown';
      const bus = createBus({ service: 'journal-open', transport: 'memory://', logger: silentLogger });
      journal(bus, { store: url.href });
      const error = await bus.start().then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      await bus.stop();
      expect(error).toBeInstanceOf(TransportError);
      expect(error!.message).toMatch(/^cannot open the journal store at postgres:\/\/nobody_\w+:\*\*\*@.*: .*does not exist/);
      expect(JSON.stringify(error, Object.getOwnPropertyNames(error))).not.toContain('pa55-never-shown');
    });
  });
} else {
  it.skip(`journal store: postgres (${unavailable}; set MISSIVE_REQUIRE_BROKERS=1 to fail instead)`, () => undefined);
}

describe.each(stores)('journal store: %s', (_, create) => {
  it('finds a conversation by business key, message id, correlation id and conversation id, oldest first', async () => {
    const store = await create();
    await store.append([
      row(10, 'x', 0, ['order-1']),
      row(20, 'x', 1, []),
      row(30, 'x', 2, [], 'dead-lettered'),
      row(15, 'y', 0, ['order-2', 'cust-9']),
    ]);
    for (const q of ['order-1', 'm-x-1', 'c-x', 'v-x'])
      expect((await store.conversation(q)).map((e) => e.messageId)).toEqual(['m-x-0', 'm-x-1', 'm-x-2']);
    expect((await store.conversation('cust-9')).map((e) => e.messageId)).toEqual(['m-y-0']);
    const [, , dead] = await store.conversation('order-1');
    expect(dead).toMatchObject({
      outcome: 'dead-lettered',
      reason: 'HANDLER_FAILED',
      error: 'Error: boom',
      traceId: 'f'.repeat(32),
      causationId: 'm-x-1',
      durationMs: 2.5,
      replayed: false,
    });
    expect(await store.conversation('none')).toEqual([]);
    expect((await store.conversation('c-x', { limit: 2 })).length).toBe(2);
    expect(await store.count()).toBe(4);
    expect((await store.recent({ limit: 2 })).map((e) => e.messageId)).toEqual(['m-y-0', 'm-x-2']);
    expect((await store.recent({ limit: 10, outcome: 'dead-lettered' })).map((e) => e.messageId)).toEqual(['m-x-2']);
    const newest = (await store.recent({ limit: 1 }))[0]!.seq;
    expect(await store.recent({ limit: 10, afterSeq: newest })).toEqual([]);
    await store.close();
  });

  it('finds a business transaction by the id of its first message, which is its correlation id', async () => {
    const store = await create();
    const first = { ...row(10, 'f', 0, []), messageId: 'c-f' };
    await store.append([first, row(20, 'f', 1, []), row(15, 'g', 0, [])]);
    expect((await store.conversation('c-f')).map((e) => e.messageId)).toEqual(['c-f', 'm-f-1']);
    expect((await store.conversation('m-f-1')).map((e) => e.messageId)).toEqual(['c-f', 'm-f-1']);
    await store.close();
  });

  it('prunes by age and by size, keys included', async () => {
    const store = await create();
    await store.append([1, 2, 3, 4, 5].map((at) => row(at, `p${at}`, 0, [`k-${at}`])));
    expect(await store.prune({ before: 2 })).toBe(1);
    expect(await store.prune({ keep: 2 })).toBe(2);
    expect(await store.count()).toBe(2);
    expect(await store.conversation('k-3')).toEqual([]);
    expect(await store.conversation('k-5')).toHaveLength(1);
    await store.close();
  });
});
