/**
 * What the SQLite driver reports reaches users as Missive errors that name the file, say what to
 * do and say whether trying again can help: a full disk (at start and on publish, and publishing
 * works again once space is freed), a file that is not a database, a file of the application's own
 * tables, and Missive's tables in a shape this version did not make. A closed transport says it
 * is closed (`BusStateError`, `CLOSED`) to every call, not a bare `TypeError` from the driver.
 */
import { randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BusStateError, ConfigurationError, createBus, defineEvent, silentLogger, TransportError, type Bus } from '@missive/core';
import { SCHEMA_VERSION } from './schema.js';
import { SqliteTransport } from './sqlite-transport.js';
import { fill, smallDisk as mountSmallDisk } from './test-fixtures/small-disk.js';

const Big = defineEvent('errors.big', z.object({ blob: z.string() }));
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanups.splice(0).reverse()) {
    try {
      await step();
    } catch {
      /* go on */
    }
  }
});

function tempPath(): string {
  const path = join(tmpdir(), `missive-errors-${randomUUID()}.db`);
  cleanups.push(() => {
    for (const s of ['', '-wal', '-shm']) rmSync(path + s, { force: true });
  });
  return path;
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

function smallDisk(sizeKb: number): { dir: string } | { reason: string } {
  return mountSmallDisk(sizeKb, (step) => cleanups.push(step));
}

describe('sqlite errors users see', () => {
  it('a full disk: publish fails with a retryable TransportError naming the file, and works again once space is freed; start fails the same way', async (ctx) => {
    const disk = smallDisk(4096);
    if ('reason' in disk) return ctx.skip(disk.reason);
    const path = join(disk.dir, 'bus.db');
    const bus: Bus = createBus({ service: 'full', transport: new SqliteTransport({ path }), logger: silentLogger });
    bus.endpoint('sink', (e) => e.on(Big, () => undefined));
    await bus.start();
    cleanups.push(() => bus.stop({ timeoutMs: 0 }));
    await bus.publish(Big, { blob: 'x'.repeat(1000) });
    const filler = fill(disk.dir);
    let error: unknown;
    for (let i = 0; i < 200 && error === undefined; i++)
      error = await bus.publish(Big, { blob: 'y'.repeat(60_000) }).then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ code: 'TRANSPORT', retryable: true });
    expect((error as Error).message).toContain(path);
    expect((error as Error).message).toMatch(/full/i);
    rmSync(filler);
    await bus.publish(Big, { blob: 'z'.repeat(1000) }); // space freed: it works again

    // A new bus on a full disk: start fails with the same kind of error, naming its file.
    fill(disk.dir);
    const other = join(disk.dir, 'other.db');
    const late = createBus({ service: 'full-start', transport: new SqliteTransport({ path: other }), logger: silentLogger });
    late.endpoint('sink2', (e) => e.on(Big, () => undefined));
    const startError = await caught(late.start());
    cleanups.push(() => late.stop({ timeoutMs: 0 }));
    expect(startError).toBeInstanceOf(TransportError);
    expect(startError).toMatchObject({ retryable: true });
    expect((startError as Error).message).toContain(other);
  });

  it('a file that is not a database: a non-retryable TransportError naming the file', async () => {
    const path = tempPath();
    writeFileSync(path, Buffer.alloc(8192, 7));
    const error = await caught(new SqliteTransport({ path }).connect());
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ retryable: false });
    expect((error as Error).message).toContain(path);
    expect((error as Error).message).toMatch(/not a (SQLite )?database/);
  });

  it("an application's database with tables of its own is refused, and left untouched", async () => {
    const path = tempPath();
    const app = new Database(path);
    app.exec('create table orders (id integer primary key, total real); insert into orders (total) values (30)');
    app.close();
    const error = await caught(new SqliteTransport({ path }).connect());
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toContain(path);
    expect((error as Error).message).toContain('orders');
    const after = new Database(path);
    cleanups.push(() => void after.close());
    expect((after.prepare("select name from sqlite_master where type = 'table'").all() as { name: string }[]).map((r) => r.name)).toEqual([
      'orders',
    ]);
  });

  it('Missive tables of another shape under the current version label: a non-retryable TransportError naming the table', async () => {
    const path = tempPath();
    const db = new Database(path);
    db.exec(`create table missive_meta (key text primary key, value integer not null) without rowid;
      insert into missive_meta values ('schema_version', ${SCHEMA_VERSION}), ('bindings_version', 0);
      create table missive_messages (seq integer primary key, queue text, payload blob)`);
    db.close();
    const error = await caught(new SqliteTransport({ path }).connect());
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ retryable: false });
    expect((error as Error).message).toContain(path);
    expect((error as Error).message).toContain('missive_messages');
  });

  it('a closed transport says it is closed to consume, queues and cancelScheduled, as to send', async () => {
    const transport = new SqliteTransport({ path: tempPath() });
    await transport.connect();
    await transport.declare({ name: 'work', topics: [] });
    await transport.close();
    const calls: [string, () => unknown][] = [
      ['send', () => transport.send('work', { id: 'm', type: 't', body: new Uint8Array(0), headers: {} })],
      ['consume', () => transport.consume('work', { prefetch: 1 })],
      ['queues', () => transport.queues()],
      ['cancelScheduled', () => transport.cancelScheduled('s')],
    ];
    for (const [name, call] of calls) {
      const error = await caught(Promise.resolve().then(call));
      expect(error, name).toBeInstanceOf(BusStateError);
      expect((error as BusStateError).code, name).toBe('CLOSED');
    }
  });
});
