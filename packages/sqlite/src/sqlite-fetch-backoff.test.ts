/**
 * A consumer's fetch that keeps failing backs off: on a full disk (a tmpfs of the test's own) the
 * attempts stay a few per second whatever wakes the transport meanwhile, the outage is logged once
 * and its end once, `status()` says why while it lasts, and the message is delivered once space is
 * freed. A read that fails in the pump is caught the same way (it used to throw out of a
 * `setImmediate`).
 */
import { randomUUID } from 'node:crypto';
import { rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as pause } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '@missive/core';
import type { Delivery } from '@missive/core/transport';
import { createWaiter } from '@missive/testing';
import { SqliteTransport } from './sqlite-transport.js';
import { fill, smallDisk } from './test-fixtures/small-disk.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanups.splice(0).reverse()) await step();
});

interface Line {
  readonly level: string;
  readonly message: string;
  readonly at: number;
}

/** A logger that keeps its lines. */
function recordingLogger(lines: Line[], notify: () => void): Logger {
  const at =
    (level: string) =>
    (fieldsOrMessage: unknown, message?: string): void => {
      lines.push({ level, message: typeof fieldsOrMessage === 'string' ? fieldsOrMessage : (message ?? ''), at: Date.now() });
      notify();
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

async function open(path: string, logger: Logger, queue: string): Promise<SqliteTransport> {
  const transport = new SqliteTransport({ path, leaseMs: 30_000, pollMs: 20 }, { logger });
  await transport.connect();
  cleanups.push(() => transport.close());
  await transport.declare({ name: queue, topics: [] });
  await transport.send(queue, { id: 'm1', type: 't', body: Buffer.from('x'), headers: {} });
  return transport;
}

/** Counts the runs of the lease's read: one per fetch attempt that got as far as leasing. */
function countLeases(transport: SqliteTransport): { readonly attempts: number } {
  const lease = transport.statements.leaseRows;
  const all = lease.all.bind(lease);
  const counter = { attempts: 0 };
  lease.all = (...args: Parameters<typeof all>) => {
    counter.attempts++;
    return all(...args);
  };
  return counter;
}

describe('sqlite fetch backoff', () => {
  it('a full disk: fetch attempts stay bounded whatever wakes the transport, one line per outage and one when it recovers', async (ctx) => {
    const disk = smallDisk(1024, (step) => cleanups.push(step));
    if ('reason' in disk) return ctx.skip(disk.reason);
    const waiter = createWaiter({ timeoutMs: 30_000 });
    const lines: Line[] = [];
    const path = join(disk.dir, 'bus.db');
    const transport = await open(
      path,
      recordingLogger(lines, () => waiter.notify()),
      'q',
    );
    const leases = countLeases(transport);
    const filler = fill(disk.dir);
    let delivered: Delivery | undefined;
    void (async () => {
      for await (const delivery of transport.consume('q', { prefetch: 1 })) {
        delivered = delivery;
        waiter.notify();
        return;
      }
    })();
    const fetchErrors = () => lines.filter((l) => l.level === 'error' && /fetch/.test(l.message));
    await waiter.until(() => fetchErrors().length > 0, 'the first failed fetch to be logged');
    const since = fetchErrors()[0]!.at;
    // Wake the transport through its file-system watch 300 times, as writes to its files do (its
    // own failed writes did, and each wake-up used to fetch again at once).
    for (let i = 0; i < 300; i++) {
      utimesSync(path, new Date(), new Date());
      await pause(1);
    }
    const elapsed = Date.now() - since;
    const attempts = leases.attempts;
    // Exponential from 20 ms, capped at 2 s, ×0.5–1.5: at most 2 + log2(1 + t/10) + t/1000 attempts
    // in t ms. The bound here is looser (5 + 10 a second); without the backoff it was ~6,000 a second.
    expect(attempts, `${attempts} attempts in ${elapsed} ms`).toBeLessThanOrEqual(5 + elapsed / 100);
    expect(fetchErrors()).toHaveLength(1);
    const status = transport.status();
    expect(status.connected).toBe(false);
    expect(status.reason).toMatch(/full/);

    rmSync(filler);
    await waiter.until(() => delivered !== undefined, 'the message once space was freed');
    await delivered!.ack();
    expect(fetchErrors()).toHaveLength(1);
    expect(lines.filter((l) => /recovered/.test(l.message))).toHaveLength(1);
    expect(transport.status()).toEqual({ connected: true });
  });

  it('a read that fails in the pump is caught, logged and retried: the message is still delivered', async () => {
    const path = join(tmpdir(), `missive-pump-read-${randomUUID()}.db`);
    cleanups.push(() => {
      for (const s of ['', '-wal', '-shm']) rmSync(path + s, { force: true });
    });
    const waiter = createWaiter({ timeoutMs: 30_000 });
    const lines: Line[] = [];
    const transport = await open(
      path,
      recordingLogger(lines, () => waiter.notify()),
      'q',
    );
    const candidate = transport.statements.look;
    const get = candidate.get.bind(candidate);
    let failures = 0;
    candidate.get = (...args: Parameters<typeof get>) => {
      if (failures++ === 0) throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_SHORT_READ' });
      return get(...args);
    };
    const iterator = transport.consume('q', { prefetch: 1 })[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect((first.value as Delivery).message.id).toBe('m1');
    await (first.value as Delivery).ack();
    expect(lines.filter((l) => l.level === 'error' && /fetch/.test(l.message))).toHaveLength(1);
    await waiter.until(() => lines.some((l) => /recovered/.test(l.message)), 'the recovery line');
  });
});
