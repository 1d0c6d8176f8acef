/**
 * Sequential outbox commits on SQLite: the CPU and the wall time of one message through the outbox
 * (the application's commit of one event, the relay sending it on the memory transport, its
 * removal), one message at a time: each commit waits until the relay sent the one before. The store
 * is a fresh SQLite file with the store's defaults (WAL, `synchronous=FULL`: each commit an fsync).
 * Prints one JSON line: CPU ms per message (`process.cpuUsage`, the whole process: commit, relay,
 * removal), wall ms per message, the load average.
 *
 * Only the public API, so the same file runs on any build (to compare builds, build each tree and
 * run its `bench/dist/profile/outbox-commit.js` in alternating rounds):
 *
 * ```sh
 * npm run build && node bench/dist/profile/outbox-commit.js --messages 300 --label mine
 * ```
 * @module
 */
import { rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createBus, defineEvent, silentLogger } from '@missive/core';
import { SqliteMessageStore } from '@missive/sqlite';
import { z } from 'zod';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '300' },
    warmup: { type: 'string', default: '30' },
    label: { type: 'string', default: '' },
  },
});
const messages = Number(values.messages);
const warmup = Number(values.warmup);

const Noted = defineEvent('bench.outbox-noted', z.object({ n: z.number() }));
const path = join(tmpdir(), `missive-outbox-commit-${randomUUID()}.db`);
const store = new SqliteMessageStore({ path });
const bus = createBus({ service: 'outbox-commit', transport: 'memory://', logger: silentLogger });
let dispatched: (() => void) | undefined;
const outbox = bus.outbox(store, { onDispatched: () => dispatched?.() });
await bus.start();

/** Commits one message and waits until the relay sent it. */
async function one(n: number): Promise<void> {
  const sent = new Promise<void>((resolve) => (dispatched = resolve));
  await outbox.transaction((tx) => tx.publish(Noted, { n }));
  await sent;
}

try {
  for (let n = 0; n < warmup; n++) await one(n);
  await outbox.flush();
  const load = loadavg()[0]!;
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (let n = 0; n < messages; n++) await one(n);
  await outbox.flush(); // the last removals
  const wallMs = performance.now() - start;
  const spent = process.cpuUsage(cpu);
  const left = (await store.pendingOutbox(10)).length;
  console.log(
    JSON.stringify({
      label: values.label,
      messages,
      cpuMsPerMessage: Number(((spent.user + spent.system) / 1000 / messages).toFixed(3)),
      wallMsPerMessage: Number((wallMs / messages).toFixed(3)),
      left,
      load: Number(load.toFixed(1)),
    }),
  );
} finally {
  await bus.stop();
  await store.close();
  for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
}
