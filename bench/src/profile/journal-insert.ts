/**
 * What the journal's worker pays per row, by SQLite setting: a journal file filled with `--prefill`
 * rows (random UUID ids and correlation ids, one business key each, as a service writes them),
 * then batches of `--batch` rows appended through `SqliteJournalStore` in one thread, the variants
 * alternating batch by batch on files of their own (each variant its own file, same rows). It
 * reads this process's CPU per row (user and system: `process.cpuUsage()`; one thread does the
 * work) and the write calls per row (`/proc/self/io` syscw).
 *
 * Variants: `default` (the store as it opens), `ckpt=<pages>` (`wal_autocheckpoint`), `mmap=<MiB>`
 * (`mmap_size`), `sync=off` (`synchronous = OFF`), `cache=<MiB>` (`cache_size`); join with `+`.
 *
 * ```sh
 * node bench/dist/profile/journal-insert.js --prefill 100000 --batches 30 default ckpt=10000 ckpt=10000+mmap=256
 * ```
 * @module
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteJournalStore, type JournalEntry } from '@missive/dashboard';

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1]! : fallback;
}

const prefill = Number(option('prefill', '100000'));
const batches = Number(option('batches', '30'));
const batch = Number(option('batch', '1000'));
const variants = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !all[i - 1]?.startsWith('--'));
if (variants.length === 0) variants.push('default');

function rowOf(at: number): JournalEntry {
  const id = randomUUID();
  return {
    seq: 0,
    at,
    sentAt: at,
    messageId: id,
    type: 'shop.order-placed',
    kind: 'event',
    source: 'shop',
    service: 'billing',
    endpoint: 'billing',
    instance: 'i-1',
    correlationId: id,
    causationId: undefined,
    conversationId: id,
    traceId: undefined,
    attempt: 1,
    outcome: 'handled',
    durationMs: 0.2,
    reason: undefined,
    error: undefined,
    replayed: false,
    payload: undefined,
    keys: [randomUUID()],
  };
}

function apply(store: SqliteJournalStore, variant: string): void {
  for (const part of variant.split('+')) {
    const [name, value] = part.split('=') as [string, string | undefined];
    if (name === 'ckpt') store.db.pragma(`wal_autocheckpoint = ${Number(value)}`);
    else if (name === 'mmap') store.db.pragma(`mmap_size = ${Number(value) * 1024 * 1024}`);
    else if (name === 'sync') store.db.pragma(`synchronous = ${value === 'off' ? 'OFF' : 'NORMAL'}`);
    else if (name === 'cache') store.db.pragma(`cache_size = ${-Number(value) * 1024}`);
    else if (name !== 'default') throw new Error(`unknown variant part ${part}`);
  }
}

const writes = (): number => Number(/^syscw: (\d+)/m.exec(readFileSync('/proc/self/io', 'utf8'))?.[1]);

const dir = mkdtempSync(join(tmpdir(), 'missive-journal-insert-'));
try {
  console.log(
    `journal-insert: ${prefill} rows first, ${batches} batches of ${batch}; load ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  const stores = variants.map((variant, i) => {
    const store = new SqliteJournalStore({ path: join(dir, `v${i}.db`) });
    apply(store, variant);
    return store;
  });
  let at = 1;
  for (let done = 0; done < prefill; done += batch) {
    const rows = Array.from({ length: Math.min(batch, prefill - done) }, () => rowOf(at++));
    for (const store of stores) await store.append(rows);
  }
  const cpu: number[][] = variants.map(() => []);
  const system: number[][] = variants.map(() => []);
  const calls: number[][] = variants.map(() => []);
  for (let b = 0; b < batches; b++) {
    const rows = Array.from({ length: batch }, () => rowOf(at++));
    const order = b % 2 === 0 ? stores.map((_, i) => i) : stores.map((_, i) => stores.length - 1 - i);
    for (const i of order) {
      const w0 = writes();
      const c0 = process.cpuUsage();
      await stores[i]!.append(rows);
      const c = process.cpuUsage(c0);
      cpu[i]!.push((c.user + c.system) / batch);
      system[i]!.push(c.system / batch);
      calls[i]!.push((writes() - w0) / batch);
    }
  }
  // Means, not medians: a checkpoint falls into one batch of several, and its cost is every row's.
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log('| variant | CPU µs/row, mean (batch min–max) | of which system | write calls/row |');
  console.log('| --- | ---: | ---: | ---: |');
  variants.forEach((variant, i) =>
    console.log(
      `| ${variant} | ${mean(cpu[i]!).toFixed(1)} (${Math.min(...cpu[i]!).toFixed(1)}–${Math.max(...cpu[i]!).toFixed(1)}) | ${mean(system[i]!).toFixed(1)} | ${(calls[i]!.reduce((a, b) => a + b, 0) / batches).toFixed(2)} |`,
    ),
  );
  for (const store of stores) await store.close();
  console.log(
    `load ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
