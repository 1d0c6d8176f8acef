/**
 * Fault scenarios about resources: the disk full under the queues (16: publishes fail clearly, the
 * process goes on, publishing recovers once space is freed) and a soak with reconnect cycles (17:
 * heap, file descriptors, handles and listeners stay flat).
 *
 * The disk is a small tmpfs the scenario mounts (root only; skipped saying so otherwise) and
 * unmounts afterwards. A reconnect cycle cuts every connection through the fault proxy on targets
 * with `networkFaults`; elsewhere (memory, SQLite: no connection to lose) the consumer is stopped
 * and a new one started on a new transport.
 *
 * @example
 * ```ts
 * resourceScenarios(test, 'sqlite');
 * ```
 * @module
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { TransportError, type Bus } from '@missive/core';
import { gate, type CaseRegistrar } from '../conformance/case.js';
import { startFaultProxy, type FaultProxy } from '../fault-proxy.js';
import { recordScenario, sampleResources, startMeter, type ResourceSample } from './fault-report.js';
import { sendAll, Work } from './fault-support.js';
import { checkQueue, describeCheck, QueueHistory, type QueueCheck } from './queue-checker.js';

/** Why a tmpfs cannot be mounted here, or undefined. */
function noTmpfs(): string | undefined {
  if (process.platform !== 'linux') return 'a full disk needs a Linux tmpfs';
  if (process.getuid?.() !== 0) return 'a full disk needs root to mount a small tmpfs';
  return undefined;
}

/** Sums the checks of several rounds (the soak keeps one history per cycle, so its own memory stays flat). */
function sumChecks(checks: readonly QueueCheck[]): QueueCheck {
  const all = <K extends keyof QueueCheck>(key: K) => checks.flatMap((c) => c[key] as readonly string[]);
  const count = <K extends keyof QueueCheck>(key: K) => checks.reduce((sum, c) => sum + (c[key] as number), 0);
  const lost = all('lost');
  const unexpected = all('unexpected');
  return {
    attempted: count('attempted'),
    confirmed: count('confirmed'),
    failed: count('failed'),
    delivered: count('delivered'),
    deliveries: count('deliveries'),
    lost,
    unexpected,
    duplicated: all('duplicated'),
    duplicatedEffects: all('duplicatedEffects'),
    recovered: count('recovered'),
    valid: lost.length === 0 && unexpected.length === 0,
  };
}

/** Registers scenarios 16 and 17. */
export function resourceScenarios(test: CaseRegistrar, transport: string): void {
  test(
    'disk full: publishes fail with a clear typed error, nothing crashes, publishing recovers once space is freed',
    async (env) => {
      const fixture = env.fixture;
      if (fixture.onDisk === undefined) throw new Error('the target declares diskFull but its fixture has no onDisk');
      const dir = join(tmpdir(), `missive-disk-full-${randomBytes(4).toString('hex')}`);
      mkdirSync(dir);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dir], { stdio: 'pipe' });
      try {
        const disk = fixture.onDisk(dir);
        const Job = env.command('fault-disk', Work);
        const endpoint = env.name('fault-disk');
        const history = new QueueHistory();
        const meter = startMeter();
        history.onChange(() => env.waiter.notify());
        // Most of the disk is a file to delete later (6 of 8 MB): the queues fill the rest.
        const filler = join(dir, 'filler');
        writeFileSync(filler, Buffer.alloc(6 * 1024 * 1024, 1));
        // The consumer takes one message and holds it, so the rest piles up on the disk.
        const hold = gate();
        const consumer = env.bus('disk-consumer', {}, disk.connect());
        consumer.endpoint(
          endpoint,
          (e) =>
            e.on(Job, async (m) => {
              history.deliver(String(m.n));
              await hold.promise;
              history.effect(String(m.n));
            }),
          { concurrency: 1, prefetch: 1 },
        );
        const publisher: Bus = env.bus('disk-publisher', {}, disk.connect());
        await consumer.start();
        await publisher.start();
        const padding = 'x'.repeat(4096);
        const errors: unknown[] = [];
        let n = 0;
        // Fill the disk: 4 KB messages until publishing fails (2 MB cannot take 1,000 of them).
        while (errors.length < 3 && n < 1000) {
          const id = n++;
          history.attempt(String(id));
          try {
            await publisher.send(Job, { n: id, key: padding });
            history.confirm(String(id));
          } catch (error) {
            history.fail(String(id));
            errors.push(error);
          }
        }
        expect(errors.length, `published ${history.confirmed.size} of ${n} without the disk filling up`).toBe(3);
        for (const error of errors) {
          expect(error).toBeInstanceOf(TransportError);
          expect((error as Error).message).toMatch(/full/i);
          expect((error as TransportError).retryable).toBe(true);
        }
        const fullAt = history.confirmed.size;
        // Space is freed: publishing works again (the first tries may still meet a full journal).
        rmSync(filler);
        let recovered = false;
        for (let tries = 0; tries < 20 && !recovered; tries++)
          recovered = await history.publish(String(n++), () => publisher.send(Job, { n: n - 1 }));
        expect(recovered, 'a publish to succeed once space was freed').toBe(true);
        await sendAll(history, 20, 4, (k) => publisher.send(Job, { n: k }), n);
        hold.open();
        await env.until(() => history.allConfirmedDone(), 'every confirmed publish done after space was freed');
        const check = checkQueue(history);
        recordScenario({
          scenario: 'disk full (8 MB tmpfs, 6 MB freed)',
          transport,
          check,
          ...meter.stop(),
          notes: { confirmedBeforeFull: fullAt, error: (errors[0] as Error).name },
        });
        expect(check.valid, describeCheck(check)).toBe(true);
        await env.cleanup(); // close the files before the unmount
      } finally {
        await env.cleanup();
        execFileSync('umount', ['-l', dir]);
        rmSync(dir, { recursive: true, force: true });
      }
    },
    { needs: ['diskFull'], unavailable: noTmpfs, timeoutMs: 60_000 },
  );

  const soak = (cycles: number, perCycle: number, heavy: boolean) =>
    test(
      `soak: ${cycles * perCycle} messages over ${cycles} reconnect cycles: heap, file descriptors, handles and listeners flat`,
      async (env) => {
        const network = env.features.networkFaults ? env.fixture.network : undefined;
        const proxy: FaultProxy | undefined =
          network === undefined ? undefined : await startFaultProxy({ host: network.host, port: network.port });
        try {
          const Job = env.command('fault-soak', Work);
          const endpoint = env.name('fault-soak');
          const meter = startMeter();
          const connect = () => (network === undefined || proxy === undefined ? undefined : network.connect(proxy.port));
          let history = new QueueHistory();
          const notify = () => env.waiter.notify();
          // Handlers record into whichever history is current: one per cycle.
          const consumerOn = (i: number) => {
            const bus = env.bus(`soak-consumer-${i}`, {}, connect());
            bus.endpoint(endpoint, (e) => e.on(Job, (m) => void (history.deliver(String(m.n)), history.effect(String(m.n)))), {
              concurrency: 8,
              prefetch: 32,
            });
            return bus;
          };
          let consumer = consumerOn(0);
          const publisher = env.bus('soak-publisher', {}, connect());
          await consumer.start();
          await publisher.start();
          const checks: QueueCheck[] = [];
          let warm: ResourceSample | undefined;
          for (let cycle = 0; cycle < cycles; cycle++) {
            history = new QueueHistory();
            const off = history.onChange(notify);
            const first = cycle * perCycle;
            const sending = sendAll(history, perCycle, 16, (k) => publisher.send(Job, { n: k }), first);
            await env.until(() => history.effects.size >= perCycle / 2, `half of cycle ${cycle} done`);
            if (proxy !== undefined) proxy.cut();
            else {
              await consumer.stop();
              consumer = consumerOn(cycle + 1);
              await consumer.start();
            }
            await sending;
            await env.until(() => history.allConfirmedDone(), `every confirmed message of cycle ${cycle} done`);
            off();
            checks.push(checkQueue(history));
            expect(checks.at(-1)!.valid, `cycle ${cycle}: ${describeCheck(checks.at(-1)!)}`).toBe(true);
            if (cycle === 0) warm = sampleResources(); // after the first cycle: connections, pools and caches exist
          }
          const end = sampleResources();
          const grew = {
            heapMb: Math.round((end.heapMb - warm!.heapMb) * 10) / 10,
            fds: end.fds - warm!.fds,
            handles: end.handles - warm!.handles,
            listeners: end.listeners - warm!.listeners,
          };
          const check = sumChecks(checks);
          const notes = {
            cycles,
            heapGrowthMb: grew.heapMb,
            fdGrowth: grew.fds,
            handleGrowth: grew.handles,
            listenerGrowth: grew.listeners,
            reconnects: proxy?.accepted ?? cycles,
          };
          recordScenario({ scenario: `soak ${cycles} reconnect cycles`, transport, check, ...meter.stop(), notes });
          const summary = `${describeCheck(check)}; ${JSON.stringify(notes)}`;
          expect(check.valid, summary).toBe(true);
          expect(grew.fds, summary).toBeLessThanOrEqual(8);
          expect(grew.handles, summary).toBeLessThanOrEqual(8);
          expect(grew.listeners, summary).toBeLessThanOrEqual(2);
          expect(grew.heapMb, summary).toBeLessThan(heavy ? 32 : 16);
        } finally {
          await env.cleanup();
          await proxy?.close();
        }
      },
      { timeoutMs: heavy ? 3_600_000 : 90_000, heavy },
    );
  soak(3, 100, false);
  soak(100, 1000, true);
}
