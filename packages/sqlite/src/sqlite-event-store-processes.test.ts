/**
 * Optimistic concurrency across processes: four processes increment one aggregate on one SQLite
 * file at the same time. Every increment lands exactly once (versions 1..N without gaps, each
 * event's value one more than the one before), and the losers of races saw `ConcurrencyError`s.
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { startProcess } from '@missive/testing';
import { SqliteEventStore } from './sqlite-event-store.js';

const appender = join(dirname(fileURLToPath(import.meta.url)), 'test-fixtures', 'event-appender.ts');
const path = join(tmpdir(), `missive-events-race-${randomUUID()}.db`);
afterAll(() => {
  for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
});

it('four processes appending to one stream: every append lands once, in order, conflicts retried', async () => {
  new SqliteEventStore({ path }).db.close(); // the schema, before the children race to create it
  const children = ['a', 'b', 'c', 'd'].map((who) =>
    startProcess(process.execPath, ['--import', 'tsx', '--conditions=@missive/source', appender, path, '40', who]),
  );
  const codes = await Promise.all(children.map((c) => c.exited));
  expect(codes, children.map((c) => c.stderr()).join('\n')).toEqual([0, 0, 0, 0]);
  const store = new SqliteEventStore({ path });
  try {
    const events = await store.readStream('counter-shared');
    expect(events.map((e) => e.version)).toEqual(Array.from({ length: 160 }, (_, i) => i + 1));
    expect(events.map((e) => (e.data as { n: number }).n)).toEqual(Array.from({ length: 160 }, (_, i) => i + 1));
    for (const who of ['a', 'b', 'c', 'd']) expect(events.filter((e) => (e.data as { by: string }).by === who).length).toBe(40);
    const conflicts = children.map((c) => Number(/conflicts=(\d+)/.exec(c.lines.join('\n'))?.[1] ?? NaN));
    expect(conflicts.every((n) => Number.isInteger(n))).toBe(true);
  } finally {
    await store.close();
  }
}, 120_000);
