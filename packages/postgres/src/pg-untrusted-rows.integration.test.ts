/**
 * Rows written straight into the queue table (by another tool, a bug, or an attacker) never stop an
 * endpoint: a row whose headers are not a JSON object of strings goes to the dead-letter queue with
 * `DECODE` and the reason (as on SQLite) rather than being handled with its headers dropped, and
 * the messages around it flow. A negative delivery count written into a row counts as none: it
 * never keeps a message that crashes its consumers below `maxDeliveries`.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createBus, defineCommand, silentLogger, type Bus } from '@missive/core';
import { createWaiter, startProcess } from '@missive/testing';
import { PostgresTransport } from './pg-transport.js';
import { dropSchema, needPostgres, postgresUrl, sql, uniqueSchema } from './test-support/database.js';

const Job = defineCommand('rows.job', z.object({ n: z.number() }));
const holder = join(dirname(fileURLToPath(import.meta.url)), 'test-support', 'consumer-process.ts');
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const step of cleanups.splice(0).reverse()) await step().catch(() => undefined);
});

function body(id: string, n: number): Buffer {
  return Buffer.from(JSON.stringify({ specversion: '1.0', id, type: Job.name, source: '/raw', data: { n } }));
}

describe('postgres rows the transport cannot trust', () => {
  it('a row whose headers are not a JSON object of strings is dead-lettered with DECODE; the endpoint goes on', async (ctx) => {
    if (!(await needPostgres(ctx))) return;
    const schema = uniqueSchema('rows');
    cleanups.push(() => dropSchema(schema));
    const waiter = createWaiter({ timeoutMs: 30_000 });
    const handled: number[] = [];
    const bus: Bus = createBus({
      service: 'rows',
      transport: new PostgresTransport({ connectionString: postgresUrl, schema, pollMs: 50 }),
      logger: silentLogger,
      retry: { immediate: 0, delayed: false },
    });
    cleanups.push(() => bus.stop({ timeoutMs: 0 }));
    bus.endpoint('work', (e) => e.on(Job, ({ n }) => void (handled.push(n), waiter.notify())));
    await bus.start();

    const spoiled: [id: string, headers: string, reason: RegExp][] = [
      ['not-json', '{oops', /not JSON/],
      ['an-array', '["a"]', /not a JSON object/],
      ['a-number-header', '{"missive-attempts":1}', /header "missive-attempts" is not a string/],
    ];
    for (const [id, headers] of spoiled) {
      await sql(`insert into "${schema}".messages (queue, id, type, body, headers) values ('work', $1, $2, $3, $4)`, [
        id,
        Job.name,
        body(id, 99),
        headers,
      ]);
    }
    await bus.send(Job, { n: 1 }, { to: 'work' });
    await waiter.until(() => handled.length === 1, 'a job sent after the spoiled rows');

    const dead = await waiter.eventually(
      () => bus.deadLetters.list('work'),
      (d) => d.length === spoiled.length,
      'a dead letter per spoiled row',
    );
    const byId = new Map(dead.map((d) => [d.message.id, d.failure]));
    for (const [id, , reason] of spoiled) {
      expect(byId.get(id)?.reason, id).toBe('DECODE');
      expect(byId.get(id)?.errorMessage, id).toMatch(reason);
    }
    expect(handled).toEqual([1]);
  });

  it('a negative delivery count in a row never keeps a message that crashes its consumers below maxDeliveries', async (ctx) => {
    if (!(await needPostgres(ctx))) return;
    const schema = uniqueSchema('rows');
    cleanups.push(() => dropSchema(schema));
    const waiter = createWaiter({ timeoutMs: 30_000 });
    const make = () => {
      const bus = createBus({
        service: 'rows',
        transport: new PostgresTransport({ connectionString: postgresUrl, schema, pollMs: 50 }),
        logger: silentLogger,
      });
      cleanups.push(() => bus.stop({ timeoutMs: 0 }));
      return bus;
    };
    const setup = make();
    setup.endpoint('work', (e) => e.on(Job, () => undefined));
    await setup.start();
    await setup.stop();
    await sql(
      `insert into "${schema}".messages (queue, id, type, body, headers, delivery_count) values ('work', 'crasher', $1, $2, '{}', -1000)`,
      [Job.name, body('crasher', 1)],
    );
    // Three consumers take it and are killed holding it; each time its lease runs out.
    for (let i = 0; i < 3; i++) {
      const child = startProcess(process.execPath, [
        '--import',
        'tsx',
        '--conditions=@missive/source',
        holder,
        JSON.stringify({ url: postgresUrl, schema, queue: 'work' }),
      ]);
      cleanups.push(async () => {
        child.kill('SIGKILL');
        await child.exited;
      });
      await waiter.eventually(
        () => sql(`select lease_owner from "${schema}".messages where id = 'crasher'`),
        (rows) => rows[0]?.lease_owner !== null,
        'the message held by a consumer',
      );
      child.kill('SIGKILL');
      await child.exited;
      await sql(`update "${schema}".messages set lease_until = 0, lease_owner = null, lease_token = null where id = 'crasher'`);
    }

    const handled: number[] = [];
    const bus = make();
    bus.endpoint('work', (e) => e.on(Job, ({ n }) => void handled.push(n)), { maxDeliveries: 3 });
    await bus.start();
    const [letter] = await waiter.eventually(
      () => bus.deadLetters.list('work'),
      (d) => d.length === 1,
      'the message dead-lettered',
    );
    expect(letter!.failure.reason).toBe('MAX_DELIVERIES');
    expect(handled).toEqual([]);
  });
});
