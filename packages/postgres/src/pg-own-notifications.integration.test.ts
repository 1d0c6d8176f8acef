/**
 * A transport does not act on the `NOTIFY` it sent itself: its own consumers were woken without the
 * round trip when it wrote (`pg-notifier.ts`), so the notification coming back through its listener
 * is skipped (sent by one of its main pool's server processes) rather than costing them a second
 * claim; with `commit: 'async'` the insert's own statement notifies, and the same holds. Another
 * connection's notification of the same queue still wakes them.
 */
import { afterEach, expect, it } from 'vitest';
import { silentLogger } from '@missive/core';
import { createWaiter } from '@missive/testing';
import type { Notifier } from './pg-notifier.js';
import { PostgresTransport } from './pg-transport.js';
import { dropSchema, needPostgres, postgresUrl, sql, uniqueSchema } from './test-support/database.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const step of cleanups.splice(0).reverse()) await step().catch(() => undefined);
});

for (const commit of ['durable', 'async'] as const)
  it(`a transport skips its own notifications and takes everyone else’s (commit ${commit})`, async (ctx) => {
    if (!(await needPostgres(ctx))) return;
    const schema = uniqueSchema('own');
    cleanups.push(() => dropSchema(schema));
    const waiter = createWaiter({ timeoutMs: 30_000 });
    const transport = new PostgresTransport({ connectionString: postgresUrl, schema, pollMs: 60_000, commit }, { logger: silentLogger });
    cleanups.push(() => transport.close());
    await transport.connect();
    await transport.declare({ name: 'work', topics: [] });
    const setting = (await transport.run<{ synchronous_commit: string }>('show synchronous_commit', [])).rows[0]?.synchronous_commit;
    expect(setting).toBe(commit === 'async' ? 'off' : 'on');

    // Every wake-up of a queue's consumers, local or from the listener, goes through `notified`.
    const woken: string[] = [];
    const inside = transport as unknown as { notified(queue: string): void; notifier: Notifier };
    const notified = inside.notified.bind(transport);
    inside.notified = (queue) => {
      woken.push(queue);
      waiter.notify();
      notified(queue);
    };

    await transport.send('work', { id: 'm-1', type: 'own.work', body: Buffer.from('{}'), headers: {} });
    await inside.notifier.idle(); // its NOTIFY committed (with commits async, in the insert's own statement)
    // Committed after it, so the listener gets this one after its own: once it is here, the own one came too.
    await sql(`select pg_notify($1, 'marker')`, [transport.sql.channel]);
    await waiter.until(() => woken.includes('marker'), 'the marker notification');
    expect(woken).toEqual(['work', 'marker']); // 'work' once: the local wake-up, not the notification

    await sql(`select pg_notify($1, 'work')`, [transport.sql.channel]);
    await waiter.until(() => woken.length === 3, "another connection's notification");
    expect(woken).toEqual(['work', 'marker', 'work']);
  }, 60_000);
