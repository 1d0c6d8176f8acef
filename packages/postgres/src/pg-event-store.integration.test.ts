/**
 * The PostgreSQL event store: the store conformance suite on the real server (a second handle is a
 * second pool on the same schema); two processes incrementing one aggregate at once (every
 * increment lands once, versions without gaps); and a `readAll` reader that checkpoints while
 * several writers append to different streams never skips an event.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { startProcess } from '@missive/testing';
import { describeEventStoreConformance, range } from '@missive/testing/vitest';
import { PostgresEventStore } from './pg-event-store.js';
import { dropSchema, needPostgres, postgresUnavailable, postgresUrl, uniqueSchema } from './test-support/database.js';

const schemas = new Map<object, string>();
const unavailable = await postgresUnavailable();

if (unavailable === undefined) {
  describeEventStoreConformance({
    name: 'postgres',
    create() {
      const schema = uniqueSchema('events');
      const store = new PostgresEventStore({ connectionString: postgresUrl, schema });
      schemas.set(store, schema);
      return store;
    },
    reopen: (store) => new PostgresEventStore({ connectionString: postgresUrl, schema: schemas.get(store)! }),
    destroy: (store) => dropSchema(schemas.get(store)!),
  });
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const step of cleanups.splice(0).reverse()) await step().catch(() => undefined);
});

const appender = join(dirname(fileURLToPath(import.meta.url)), 'test-support', 'event-appender.ts');

it('two processes appending to one stream: every append lands once, in order, conflicts retried', async (ctx) => {
  if (!(await needPostgres(ctx))) return;
  const schema = uniqueSchema('events_race');
  cleanups.push(() => dropSchema(schema));
  const store = new PostgresEventStore({ connectionString: postgresUrl, schema });
  cleanups.push(() => store.close());
  await store.init(); // the tables, before the children race to create them
  const children = ['a', 'b'].map((who) =>
    startProcess(process.execPath, ['--import', 'tsx', '--conditions=@missive/source', appender, postgresUrl, schema, '20', who]),
  );
  const codes = await Promise.all(children.map((c) => c.exited));
  expect(codes, children.map((c) => c.stderr()).join('\n')).toEqual([0, 0]);
  const events = await store.readStream('counter-shared');
  expect(events.map((e) => e.version)).toEqual(range(40).map((i) => i + 1));
  expect(events.map((e) => (e.data as { n: number }).n)).toEqual(range(40).map((i) => i + 1));
  for (const who of ['a', 'b']) expect(events.filter((e) => (e.data as { by: string }).by === who).length).toBe(20);
  const conflicts = children.map((c) => Number(/conflicts=(\d+)/.exec(c.lines.join('\n'))?.[1] ?? NaN));
  expect(conflicts.every((n) => Number.isInteger(n))).toBe(true);
}, 120_000);

it('a readAll reader that checkpoints while four writers append to their own streams sees every event once', async (ctx) => {
  if (!(await needPostgres(ctx))) return;
  const schema = uniqueSchema('events_order');
  cleanups.push(() => dropSchema(schema));
  const writers = range(4).map(() => new PostgresEventStore({ connectionString: postgresUrl, schema }));
  const reader = new PostgresEventStore({ connectionString: postgresUrl, schema });
  for (const s of [...writers, reader]) cleanups.push(() => s.close());
  await reader.init();
  const seen: string[] = [];
  let checkpoint = 0;
  const drain = async () => {
    for (const e of await reader.readAll({ after: checkpoint, limit: 50 })) {
      seen.push(e.id);
      checkpoint = e.position;
    }
  };
  let writing = true;
  const reading = (async () => {
    while (writing) await drain();
  })();
  await Promise.all(
    writers.map(async (w, i) => {
      for (const n of range(40)) await w.append(`w-${i}`, [{ id: `w${i}-${n}`, type: 'wrote', data: { n } }], { expectedVersion: n });
    }),
  );
  writing = false;
  await reading;
  await drain();
  expect(seen.length).toBe(160);
  expect(new Set(seen).size).toBe(160);
});
