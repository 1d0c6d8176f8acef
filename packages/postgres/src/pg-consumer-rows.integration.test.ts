/**
 * What `queues()` says about consumers on PostgreSQL beyond the conformance case: consumers of
 * several transports are summed; a consumer process killed with SIGKILL stops counting once it is
 * reaped, and its queue is idle since that process's last heartbeat; a schema of version 1 is
 * migrated in place, its queues idle since they were declared.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { silentLogger } from '@missive/core';
import { createWaiter, startProcess } from '@missive/testing';
import { PostgresTransport } from './pg-transport.js';
import { MIGRATIONS, SCHEMA_VERSION, TRANSPORT_MIGRATIONS, migrate } from './schema.js';
import { dropSchema, needPostgres, postgresUrl, sql, uniqueSchema } from './test-support/database.js';
import pg from 'pg';

const script = join(dirname(fileURLToPath(import.meta.url)), 'test-support', 'consumer-process.ts');
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const step of cleanups.splice(0).reverse()) await step().catch(() => undefined);
});

function transport(schema: string): PostgresTransport {
  const t = new PostgresTransport({ connectionString: postgresUrl, schema, poolSize: 2, pollMs: 100 }, { logger: silentLogger });
  cleanups.push(() => t.close());
  return t;
}

async function info(t: PostgresTransport, queue: string) {
  return (await t.queues()).find((q) => q.name === queue);
}

it('consumers of every transport are counted; a consumer process killed with SIGKILL stops counting, idle since its last heartbeat', async (ctx) => {
  if (!(await needPostgres(ctx))) return;
  const schema = uniqueSchema('consumers');
  cleanups.push(() => dropSchema(schema));
  const waiter = createWaiter({ timeoutMs: 30_000 });
  const a = transport(schema);
  await a.connect();
  await a.declare({ name: 'counted', topics: [] });
  const consumers = [a.consume('counted', { prefetch: 1 }), a.consume('counted', { prefetch: 1 })];
  for (const c of consumers) await c.ready;
  const startedAt = Date.now();
  const child = startProcess(process.execPath, [
    '--import',
    'tsx',
    '--conditions=@missive/source',
    script,
    JSON.stringify({ url: postgresUrl, schema, queue: 'counted' }),
  ]);
  cleanups.push(async () => {
    child.kill('SIGKILL');
    await child.exited;
  });
  await child.waitFor(/^ready$/, 30_000);
  expect(await info(a, 'counted')).toMatchObject({ consumers: 3, idleSince: undefined });

  await consumers[0]!.close();
  await waiter.eventually(
    () => info(a, 'counted'),
    (q) => q?.consumers === 2,
    'one consumer fewer',
  );
  await Promise.all(consumers.map((c) => c.close()));
  await waiter.eventually(
    () => info(a, 'counted'),
    (q) => q?.consumers === 1,
    'the child alone',
  );
  expect((await info(a, 'counted'))!.idleSince).toBeUndefined();

  const killedAt = Date.now();
  child.kill('SIGKILL');
  await child.exited;
  // The child's session is gone; transport a reaps it within a second (its poll) and counts none.
  const idle = await waiter.eventually(
    () => info(a, 'counted'),
    (q) => q?.consumers === 0,
    'the killed consumer reaped',
  );
  expect(idle!.idleSince).toBeGreaterThanOrEqual(startedAt);
  expect(idle!.idleSince).toBeLessThanOrEqual(killedAt);
}, 60_000);

it('a schema of version 1 is migrated in place: its queues keep their messages and are idle since they were declared', async (ctx) => {
  if (!(await needPostgres(ctx))) return;
  const schema = uniqueSchema('v1');
  cleanups.push(() => dropSchema(schema));
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  try {
    await migrate(client, schema, { ...TRANSPORT_MIGRATIONS, migrations: MIGRATIONS.filter((m) => m.version === 1) });
    await client.query(`insert into "${schema}".queues (name, owner, created_at) values ('old', null, 1000)`);
    await client.query(`insert into "${schema}".messages (queue, id, type, body, headers) values ('old', 'm-1', 'x', '\\x01', '{}')`);
  } finally {
    await client.end();
  }
  const t = transport(schema);
  await t.connect();
  expect((await sql<{ v: number }>(`select max(version) v from "${schema}".schema_migrations`))[0]!.v).toBe(SCHEMA_VERSION);
  expect(await info(t, 'old')).toMatchObject({ depth: 1, consumers: 0, idleSince: 1000 });
  await t.commandOwners.claim({ queue: 'old', service: 'legacy', types: ['legacy.do'] });
  expect(await t.commandOwners.owners()).toEqual([expect.objectContaining({ type: 'legacy.do', queue: 'old', service: 'legacy' })]);
});
