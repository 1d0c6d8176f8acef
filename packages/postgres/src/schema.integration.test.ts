/** Versioned migrations: a user without superuser sets up its schema; a newer schema is refused clearly. */
import { afterEach, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { PostgresTransport } from './pg-transport.js';
import { SCHEMA_VERSION } from './schema.js';
import { dropSchema, needPostgres, postgresUrl, sql, uniqueSchema } from './test-support/database.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const step of cleanups.splice(0).reverse()) await step().catch(() => undefined);
});

it('an ordinary user (no superuser) creates and uses its schema', async (ctx) => {
  if (!(await needPostgres(ctx))) return;
  const role = `missive_app_${randomBytes(4).toString('hex')}`;
  const schema = uniqueSchema('plain');
  await sql(`create role ${role} login nosuperuser nocreatedb nocreaterole`);
  await sql(`grant create on database ${new URL(postgresUrl).pathname.slice(1)} to ${role}`);
  cleanups.push(async () => {
    await dropSchema(schema);
    await sql(`revoke create on database ${new URL(postgresUrl).pathname.slice(1)} from ${role}`);
    await sql(`drop role ${role}`);
  });
  const url = new URL(postgresUrl);
  url.username = role;
  const transport = new PostgresTransport({ connectionString: url.href, schema, poolSize: 2 });
  cleanups.push(() => transport.close());
  await transport.connect();
  await transport.declare({ name: 'plain', topics: ['plain.thing'] });
  await transport.publish('plain.thing', { id: 'm-1', type: 'plain.thing', body: new Uint8Array([1]), headers: {}, partitionKey: 'k' });
  const consumer = transport.consume('plain', { prefetch: 1 });
  await consumer.ready;
  for await (const delivery of consumer) {
    expect(delivery.message.id).toBe('m-1');
    await delivery.ack();
    break;
  }
  expect((await sql<{ version: number }>(`select max(version) version from "${schema}".schema_migrations`))[0]!.version).toBe(
    SCHEMA_VERSION,
  );
});

it('a schema of a newer version is refused with a message that says what to do', async (ctx) => {
  if (!(await needPostgres(ctx))) return;
  const schema = uniqueSchema('newer');
  cleanups.push(() => dropSchema(schema));
  const first = new PostgresTransport({ connectionString: postgresUrl, schema, poolSize: 2 });
  await first.connect();
  await first.close();
  await sql(`insert into "${schema}".schema_migrations (version) values ($1)`, [SCHEMA_VERSION + 1]);
  const second = new PostgresTransport({ connectionString: postgresUrl, schema, poolSize: 2 });
  const failure = await second.connect().then(
    () => undefined,
    (error: unknown) => error as Error & { retryable: boolean },
  );
  expect(failure?.message).toMatch(
    new RegExp(`schema version ${SCHEMA_VERSION + 1}; this version of @missive/postgres knows up to ${SCHEMA_VERSION}: upgrade`),
  );
  expect(failure?.retryable).toBe(false);
});

it('a database that cannot be reached fails connect with the host, not the password', async () => {
  const transport = new PostgresTransport({ connectionString: 'postgres://u:hunter2@127.0.0.1:1/db', poolSize: 1 });
  const failure = await transport.connect().then(
    () => undefined,
    (error: unknown) => error as Error,
  );
  expect(failure?.message).toMatch(/cannot connect to PostgreSQL at postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/db/);
  expect(failure?.message).not.toContain('hunter2');
});
