import { randomUUID } from 'node:crypto';
import { rmSync, stat } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createBus, ConfigurationError } from '@missive/core';
import type { Delivery } from '@missive/core/transport';
import { startProcess } from '@missive/testing';
import { resolveSqliteOptions, sqliteOptionsFromUrl } from './sqlite-options.js';
import { SqliteTransport } from './sqlite-transport.js';

const paths: string[] = [];
const transports: SqliteTransport[] = [];
function open(leaseMs = 300): { path: string; connect: () => Promise<SqliteTransport> } {
  const path = join(tmpdir(), `missive-sqlite-${randomUUID()}.db`);
  paths.push(path);
  return {
    path,
    async connect() {
      const t = new SqliteTransport({ path, leaseMs, pollMs: 20 });
      transports.push(t);
      await t.connect();
      return t;
    },
  };
}
afterEach(async () => {
  await Promise.all(transports.splice(0).map((t) => t.close()));
  for (const path of paths.splice(0)) for (const s of ['', '-wal', '-shm']) rmSync(path + s, { force: true });
});

async function first(transport: SqliteTransport, queue: string): Promise<Delivery> {
  const iterator = transport.consume(queue, { prefetch: 1 })[Symbol.asyncIterator]();
  return (await iterator.next()).value as Delivery;
}

describe('sqlite leases', () => {
  it('an ack that arrives after the lease expired does not ack the redelivered copy', async () => {
    const db = open(200);
    const a = await db.connect();
    await a.declare({ name: 'q', topics: [] });
    await a.send('q', { id: 'm', type: 't', body: Buffer.from('x'), headers: {} });
    const stale = await first(a, 'q');
    // Simulate a stalled process: its lease is not extended (heartbeat stopped) and runs out. (The
    // owner is changed too, so this process's own heartbeat cannot extend it again meanwhile.)
    a.db.prepare("update missive_messages set lease_until = 0, lease_owner = 'stalled'").run();
    const b = await db.connect();
    const fresh = await first(b, 'q');
    expect(fresh.deliveryCount).toBe(2);
    await stale.ack(); // too late: must be a no-op
    expect((await b.queues()).find((q) => q.name === 'q')?.inFlight).toBe(1);
    await fresh.ack();
    expect((await b.queues()).find((q) => q.name === 'q')).toMatchObject({ depth: 0, inFlight: 0 });
  });

  it('a handler that runs longer than the lease keeps its lease', async () => {
    // Long enough that a loaded machine's stall between two extensions (a third of it) does not
    // lose it: with 150 ms, a 100 ms stall let the other connection take the message.
    const leaseMs = 3000;
    const db = open(leaseMs);
    const bus = createBus({ service: 'slow', transport: await db.connect() });
    let runs = 0;
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    let begin!: () => void;
    const begun = new Promise<void>((resolve) => (begin = resolve));
    const { defineCommand } = await import('@missive/core');
    const { z } = await import('zod');
    const Slow = defineCommand('t.slow', z.object({}));
    const probe = transports[0]!;
    const leaseUntil = () => (probe.db.prepare('select lease_until l from missive_messages').get() as { l: number } | undefined)?.l ?? 0;
    bus.endpoint('slow', (e) =>
      e.on(Slow, async () => {
        runs++;
        const first = leaseUntil();
        begin();
        // The work goes on until the lease was extended past two more leases (the store shows it).
        while (leaseUntil() < first + 2 * leaseMs) await new Promise((resolve) => setTimeout(resolve, 100));
        finish();
      }),
    );
    const other = createBus({ service: 'other', transport: await db.connect() });
    other.endpoint('slow', (e) => e.on(Slow, () => void runs++));
    await bus.start();
    await bus.send(Slow, {});
    await begun; // the other instance competes from now on: it must not get the message while the handler runs
    await other.start();
    await finished;
    await bus.stop();
    await other.stop();
    expect(runs).toBe(1);
  }, 30_000);

  it('a stall of the whole process does not let its other connection take a lease whose handler still runs', async () => {
    const leaseMs = 300;
    const db = open(leaseMs);
    const a = await db.connect();
    const b = await db.connect(); // the second instance of the same process, as in the keyed chaos case
    await a.declare({ name: 'q', topics: [] });
    await a.send('q', { id: 'm', type: 't', body: Buffer.from('x'), headers: {} });
    const held = await first(a, 'q');
    const taken: Delivery[] = [];
    void (async () => {
      for await (const delivery of b.consume('q', { prefetch: 1 })) taken.push(delivery);
    })();
    // The event loop stalls for three leases inside an I/O callback (a starved process); right
    // after it, something wakes the other connection (a file-system event, an ack) before any
    // timer, so before the heartbeat that renews the held lease.
    await new Promise<void>((resolve) =>
      stat(db.path, () => {
        const until = Date.now() + 3 * leaseMs;
        while (Date.now() < until); // the stall
        b.wake();
        resolve();
      }),
    );
    await held.ack();
    // Had the other connection taken the message, this late ack would have been refused and the row kept.
    expect(a.db.prepare('select count(*) n from missive_messages').get()).toEqual({ n: 0 });
    expect(taken).toEqual([]);
  });

  it('several processes writing at once lose nothing', async () => {
    const db = open();
    const t = await db.connect();
    await t.declare({ name: 'stress', topics: ['stress.topic'] });
    const writer = join(dirname(fileURLToPath(import.meta.url)), 'test-fixtures', 'writer.ts');
    const writers = [0, 1, 2].map((i) =>
      startProcess(process.execPath, ['--import', 'tsx', '--conditions=@missive/source', writer, db.path, 'stress.topic', `w${i}`, '300']),
    );
    await Promise.all(writers.map((w) => w.waitFor(/^done$/, 60_000)));
    expect((await t.queues()).find((q) => q.name === 'stress')?.depth).toBe(900);
    const ids = new Set((t.db.prepare('select id from missive_messages').all() as { id: string }[]).map((r) => r.id));
    expect(ids.size).toBe(900);
  }, 90_000);

  it('refuses bad URLs and options with a message that says what to fix', () => {
    expect(() => sqliteOptionsFromUrl(new URL('sqlite://bus.db?lease=soon'))).toThrow(/lease must be a whole number/);
    expect(() => sqliteOptionsFromUrl(new URL('sqlite://bus.db?leese=5'))).toThrow(/unknown sqlite URL parameter "leese"/);
    expect(() => sqliteOptionsFromUrl(new URL('sqlite://bus.db?synchronous=off'))).toThrow(/full" or "normal/);
    expect(() => resolveSqliteOptions({ path: ':memory:' })).toThrow(ConfigurationError);
    expect(() => createBus({ service: 's', transport: 'sqlite://:memory:' })).toThrow(ConfigurationError);
    expect(sqliteOptionsFromUrl(new URL('sqlite://.missive/bus.db?synchronous=normal&lease=5000'))).toMatchObject({
      synchronous: 'NORMAL',
      leaseMs: 5000,
    });
    expect(sqliteOptionsFromUrl(new URL('sqlite:///tmp/x/bus.db')).path).toBe('/tmp/x/bus.db');
  });

  it('is chosen by URL through createBus', async () => {
    const db = open();
    const bus = createBus({ service: 'by-url', transport: `sqlite://${db.path}` });
    await bus.start();
    expect(bus.transport.kind).toBe('sqlite');
    await bus.stop();
  });
});
