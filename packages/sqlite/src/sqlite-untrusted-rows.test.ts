/**
 * Rows written straight into the queue table (by another tool, a bug, or an attacker) never stop an
 * endpoint and never weaken its guards: a row whose metadata the transport cannot read goes to the
 * dead-letter queue with `DECODE` and the reason while the messages around it flow, and delivery
 * counts and attempt headers that make no sense are clamped to what the delivery count implies.
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createBus, defineCommand, silentLogger, type Bus, type DeadLetter } from '@missive/core';
import { createWaiter } from '@missive/testing';
import { SqliteTransport } from './sqlite-transport.js';

const Job = defineCommand('rows.job', z.object({ n: z.number() }));
const paths: string[] = [];
const buses: Bus[] = [];
const dbs: Database.Database[] = [];

afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.stop({ timeoutMs: 0 })));
  for (const db of dbs.splice(0)) db.close();
  for (const path of paths.splice(0)) for (const s of ['', '-wal', '-shm']) rmSync(path + s, { force: true });
});

function file(): { path: string; raw: () => Database.Database } {
  const path = join(tmpdir(), `missive-rows-${randomUUID()}.db`);
  paths.push(path);
  return {
    path,
    raw() {
      const db = new Database(path);
      dbs.push(db);
      return db;
    },
  };
}

function bus(path: string, options: Partial<Parameters<typeof createBus>[0]> = {}): Bus {
  const b = createBus({
    service: 'rows',
    transport: new SqliteTransport({ path, leaseMs: 2000, pollMs: 20 }),
    logger: silentLogger,
    retry: { immediate: 0, delayed: false },
    ...options,
  });
  buses.push(b);
  return b;
}

/** Sends `count` jobs to `queue` from a bus with no endpoints, then stops it. */
async function enqueue(path: string, queue: string, ns: readonly number[]): Promise<void> {
  const sender = bus(path);
  await sender.start();
  for (const n of ns) await sender.send(Job, { n }, { to: queue });
  await sender.stop();
}

describe('sqlite rows the transport cannot trust', () => {
  it('a row with null or non-JSON headers is dead-lettered with DECODE; the endpoint goes on with the rest', async () => {
    const { path, raw } = file();
    // Declare the queue, enqueue five jobs, and spoil the headers of two of them.
    const setup = bus(path);
    setup.endpoint('work', (e) => e.on(Job, () => undefined));
    await setup.start();
    await setup.stop();
    await enqueue(path, 'work', [0, 1, 2, 3, 4]);
    const db = raw();
    const ids = (db.prepare("select id from missive_messages where queue = 'work' order by seq").all() as { id: string }[]).map(
      (r) => r.id,
    );
    db.prepare('update missive_messages set headers = ? where id = ?').run('null', ids[1]);
    db.prepare('update missive_messages set headers = ? where id = ?').run('{not json', ids[3]);

    const waiter = createWaiter();
    const handled: number[] = [];
    const consumer = bus(path);
    consumer.endpoint('work', (e) => e.on(Job, ({ n }) => void (handled.push(n), waiter.notify())), { prefetch: 8, concurrency: 2 });
    await consumer.start();
    await waiter.until(() => handled.length === 3, 'the three readable jobs');
    // Later messages still flow.
    await enqueue(path, 'work', [5]);
    await waiter.until(() => handled.length === 4, 'a job sent after the bad rows');
    expect(handled.sort()).toEqual([0, 2, 4, 5]);

    let dead: DeadLetter[] = [];
    await waiter.eventually(
      async () => (dead = await consumer.deadLetters.list('work')),
      (d) => d.length === 2,
      'two dead letters',
    );
    expect(dead.map((d) => d.message.id).sort()).toEqual([ids[1], ids[3]].sort());
    for (const d of dead) {
      expect(d.failure.reason).toBe('DECODE');
      expect(d.failure.errorMessage).toMatch(/headers/);
    }
  });

  it('a negative delivery count never switches off maxDeliveries', async () => {
    const { path, raw } = file();
    const setup = bus(path);
    setup.endpoint('guarded', (e) => e.on(Job, () => undefined));
    await setup.start();
    await setup.stop();
    await enqueue(path, 'guarded', [0]);
    raw().prepare("update missive_messages set delivery_count = -1000 where queue = 'guarded'").run();

    const waiter = createWaiter();
    let runs = 0;
    const consumer = bus(path, { retry: { immediate: 0, delayed: { attempts: 100, initialMs: 0, jitter: 0 } } });
    const reasons: string[] = [];
    consumer.on('dead-lettered', (event) => void (reasons.push(event.reason), waiter.notify()));
    consumer.endpoint(
      'guarded',
      (e) =>
        e.on(Job, () => {
          runs++;
          throw new Error('always fails');
        }),
      { maxDeliveries: 3 },
    );
    await consumer.start();
    await waiter.until(() => reasons.length === 1, 'the message dead-lettered');
    expect(reasons).toEqual(['MAX_DELIVERIES']);
    expect(runs).toBe(3);
  });

  it('attempt headers that make no sense are replaced by what the delivery count implies', async () => {
    const { path, raw } = file();
    const setup = bus(path);
    setup.endpoint('counted', (e) => e.on(Job, () => undefined));
    await setup.start();
    await setup.stop();
    await enqueue(path, 'counted', [0, 1, 2]);
    const db = raw();
    const rows = db.prepare("select seq from missive_messages where queue = 'counted' order by seq").all() as { seq: number }[];
    // Delivered 4 times before: this is the 5th delivery.
    const spoil = db.prepare('update missive_messages set delivery_count = 4, headers = ? where seq = ?');
    spoil.run(JSON.stringify({ 'missive-attempts': '999999', 'missive-redeliveries': '2' }), rows[0]!.seq);
    spoil.run(JSON.stringify({ 'missive-attempts': '-1', 'missive-redeliveries': 'abc' }), rows[1]!.seq);
    spoil.run(JSON.stringify({ 'missive-attempts': 'abc', 'missive-redeliveries': '-1' }), rows[2]!.seq);

    const waiter = createWaiter();
    const attempts = new Map<number, number[]>();
    const dead: string[] = [];
    const consumer = bus(path, { retry: { immediate: 0, delayed: { attempts: 5, initialMs: 0, jitter: 0 } } });
    consumer.on('dead-lettered', () => void (dead.push('x'), waiter.notify()));
    consumer.endpoint(
      'counted',
      (e) =>
        e.on(Job, ({ n }, ctx) => {
          attempts.set(n, [...(attempts.get(n) ?? []), ctx.attempt]);
          throw new Error('fails');
        }),
      { maxDeliveries: 50 },
    );
    await consumer.start();
    await waiter.until(() => dead.length === 3, 'all three dead-lettered');
    // 999999 prior attempts is impossible in 4 deliveries without immediate retries: at most 4.
    expect(attempts.get(0)).toEqual([5, 6, 7, 8]); // redeliveries 2 of 5: three more
    // Unreadable counters: the delivery count says 4 earlier deliveries, each at least one attempt,
    // and counts every one of them as a delayed redelivery (the stricter reading): one more.
    expect(attempts.get(1)).toEqual([5, 6]);
    expect(attempts.get(2)).toEqual([5, 6]);
  });
});
