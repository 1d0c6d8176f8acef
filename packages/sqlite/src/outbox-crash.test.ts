/**
 * The outbox's three crash points, with real process kills: before the commit nothing is published;
 * after the commit but before dispatch the message is published after restart; after dispatch but
 * before it is marked sent it is published again and the consumer's inbox removes the copy, so the
 * side effect happens once.
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createBus, defineEvent, silentLogger, type Bus } from '@missive/core';
import { createWaiter, startProcess } from '@missive/testing';
import { z } from 'zod';
import { SqliteMessageStore } from './sqlite-message-store.js';
import { SqliteTransport } from './sqlite-transport.js';

const OrderPlaced = defineEvent('crash.order-placed', z.object({ orderId: z.string() }));
const Marker = defineEvent('crash.marker', z.object({ orderId: z.string() }));
const crasher = join(dirname(fileURLToPath(import.meta.url)), 'test-fixtures', 'outbox-crasher.ts');
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function tempPath(name: string): string {
  const path = join(tmpdir(), `missive-crash-${name}-${randomUUID()}.db`);
  cleanup.push(() => {
    for (const s of ['', '-wal', '-shm']) rmSync(path + s, { force: true });
  });
  return path;
}

async function run(busPath: string, storePath: string, mode: string, orderId: string): Promise<number | string> {
  const child = startProcess(process.execPath, [
    '--import',
    'tsx',
    '--conditions=@missive/source',
    crasher,
    busPath,
    storePath,
    mode,
    orderId,
  ]);
  const code = await child.exited;
  if (mode === 'recover' && !child.lines.includes('recovered'))
    throw new Error(`the recovering process ended (${String(code)}) without recovering: ${child.stderr().slice(-3000)}`);
  return code;
}

/** The consumer: its side effect (a row per order) and the inbox commit together. */
async function consumer(busPath: string) {
  const store = new SqliteMessageStore({ path: tempPath('consumer') });
  store.db.exec('create table effects (order_id text not null)');
  const bus: Bus = createBus({ service: 'consumer', transport: new SqliteTransport({ path: busPath, pollMs: 20 }), logger: silentLogger });
  const outbox = bus.outbox(store);
  const seen = { deliveries: 0, markers: new Set<string>() };
  const record = outbox.handler<typeof OrderPlaced>(
    (m, tx) => void tx.db.prepare('insert into effects (order_id) values (?)').run(m.orderId),
  );
  bus.endpoint('effects', (e) => {
    e.on(OrderPlaced, async (m, ctx) => {
      seen.deliveries++;
      await record(m, ctx);
    });
    e.on(Marker, (m) => void seen.markers.add(m.orderId));
  });
  await bus.start();
  cleanup.push(async () => {
    await bus.stop();
    await store.close();
  });
  const effects = (orderId: string) =>
    (store.db.prepare('select count(*) n from effects where order_id = ?').get(orderId) as { n: number }).n;
  const until = createWaiter().until;
  return { seen, effects, until };
}

function pending(storePath: string): number {
  const store = new SqliteMessageStore({ path: storePath });
  try {
    return (store.db.prepare('select count(*) n from missive_outbox').get() as { n: number }).n;
  } finally {
    void store.close();
  }
}

function orders(storePath: string): number {
  const store = new SqliteMessageStore({ path: storePath });
  try {
    store.db.exec('create table if not exists orders (id text primary key)');
    return (store.db.prepare('select count(*) n from orders').get() as { n: number }).n;
  } finally {
    void store.close();
  }
}

describe('outbox crash points (SIGKILL)', () => {
  it('crash before the commit: nothing written, nothing published', async () => {
    const busPath = tempPath('bus');
    const storePath = tempPath('store');
    const c = await consumer(busPath);
    expect(await run(busPath, storePath, 'before-commit', 'o-1')).toBe('SIGKILL');
    expect(orders(storePath)).toBe(0);
    expect(pending(storePath)).toBe(0);
    await run(busPath, storePath, 'recover', 'o-1');
    await c.until(() => c.seen.markers.has('o-1'), 'the marker published after recovery');
    expect(c.seen.deliveries).toBe(0);
    expect(c.effects('o-1')).toBe(0);
  }, 60_000);

  it('crash after the commit, before dispatch: published after restart', async () => {
    const busPath = tempPath('bus');
    const storePath = tempPath('store');
    const c = await consumer(busPath);
    expect(await run(busPath, storePath, 'after-commit', 'o-2')).toBe('SIGKILL');
    expect(orders(storePath)).toBe(1);
    expect(pending(storePath)).toBe(1);
    expect(c.seen.deliveries).toBe(0);
    await run(busPath, storePath, 'recover', 'o-2');
    await c.until(() => c.seen.markers.has('o-2') && c.effects('o-2') === 1, 'the order published after recovery');
    expect(c.seen.deliveries).toBe(1);
    expect(pending(storePath)).toBe(0);
  }, 60_000);

  it('crash after dispatch, before marking: published again, and the inbox keeps the effect single', async () => {
    const busPath = tempPath('bus');
    const storePath = tempPath('store');
    const c = await consumer(busPath);
    expect(await run(busPath, storePath, 'after-dispatch', 'o-3')).toBe('SIGKILL');
    expect(pending(storePath)).toBe(1);
    await c.until(() => c.effects('o-3') === 1, 'the first delivery');
    await run(busPath, storePath, 'recover', 'o-3');
    await c.until(() => c.seen.markers.has('o-3') && c.seen.deliveries === 2, 'the second delivery of the same message');
    expect(c.effects('o-3')).toBe(1);
    expect(pending(storePath)).toBe(0);
  }, 60_000);
});
