/**
 * Fault scenarios about instances: a handler that blocks its process's event loop past its lease
 * (13: its late ack never settles the copy another instance took), per-key order across two
 * instances (14), and a process that publishes and consumes SIGKILLed mid-stream (on SQLite, where
 * the file is the broker, this is the broker kill: nothing it confirmed is lost).
 *
 * @example
 * ```ts
 * processScenarios(test, 'sqlite');
 * ```
 * @module
 */
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { gate, range, type CaseRegistrar } from '../conformance/case.js';
import { startMeter } from './fault-report.js';
import { absorb, child, judge, recordingConsumer, Work } from './fault-support.js';
import { describeCheck, QueueHistory } from './queue-checker.js';

/** Registers scenarios 13 and 14 (320 messages in `npm test`, 1,000 under chaos) and the publishing process kill. */
export function processScenarios(test: CaseRegistrar, transport: string): void {
  test(
    'a handler blocking the event loop past its lease: its late ack never settles the copy another instance took',
    async (env) => {
      const Job = env.command('fault-blocked', Work);
      const endpoint = env.name('fault-blocked');
      env.track(endpoint);
      const history = new QueueHistory();
      const meter = startMeter();
      const flag = join(tmpdir(), `${endpoint}.unblock`);
      const blocked = child(
        env,
        { service: 'blocked', endpoint, type: Job.name, prefetch: 1, concurrency: 1, blockFile: flag },
        env.fixture.blockedLoopUrl ?? env.fixture.url,
      );
      try {
        await blocked.waitFor(/^ready$/, 60_000);
        const sender = env.bus('blocked-sender');
        await sender.start();
        history.attempt('0');
        await sender.send(Job, { n: 0 });
        history.confirm('0');
        await blocked.waitFor(/^got 0 /, 30_000); // its event loop is now blocked, holding message 0
        // The other instance fails its first try after the blocked one's late ack: the message must
        // come back (a late ack that settled this copy would lose it).
        const hold = gate();
        let tries = 0;
        const other = env.bus('blocked-other', { retry: { immediate: 0, delayed: { attempts: 3, initialMs: 50, factor: 1, jitter: 0 } } });
        other.endpoint(
          endpoint,
          (e) =>
            e.on(Job, async (m) => {
              history.deliver(String(m.n));
              tries++;
              env.waiter.notify();
              if (tries === 1) {
                await hold.promise;
                throw new Error('first try fails after the late ack');
              }
              history.effect(String(m.n));
            }),
          { concurrency: 1, prefetch: 1 },
        );
        history.onChange(() => env.waiter.notify());
        await other.start();
        await env.until(() => tries === 1, 'the other instance to take the copy while the first is blocked');
        writeFileSync(flag, '');
        await blocked.waitFor(/^done 0 /, 30_000);
        blocked.kill('SIGTERM'); // a graceful stop sends its (late) ack before the process exits
        expect(await blocked.exited, `exit of the unblocked instance; stderr: ${blocked.stderr().slice(-2000)}`).toBe(0);
        absorb(history, blocked.lines);
        hold.open();
        await env.until(
          () => tries >= 2 && history.effects.size === 1 && (history.effects.get('0') ?? 0) >= 2,
          'the failed copy to come back and be done',
        );
        const check = judge('handler blocking the event loop past its lease', transport, history, meter, { tries });
        expect(history.delivered.get('0'), describeCheck(check)).toBeGreaterThanOrEqual(3);
      } finally {
        blocked.kill('SIGKILL');
        await blocked.exited;
        rmSync(flag, { force: true });
      }
    },
    { needs: ['processes', 'leases'], timeoutMs: 120_000 },
  );

  const keyed = (count: number, heavy: boolean) =>
    test(
      `${count.toLocaleString('en')} messages, 16 keys, concurrency 8, two instances: per-key order kept`,
      async (env) => {
        const Job = env.command('fault-keys', Work, { partitionKey: (m) => m.key ?? '' });
        const endpoint = env.name('fault-keys');
        const history = new QueueHistory();
        const meter = startMeter();
        const keys = range(16).map((k) => `key-${k}`);
        const next = new Map(keys.map((key) => [key, 0]));
        const running = new Set<string>();
        const violations: string[] = [];
        const instances = range(2).map((i) => {
          const bus = env.bus(`keys-${i}`);
          bus.endpoint(
            endpoint,
            (e) =>
              e.on(Job, async (m) => {
                const key = m.key!;
                const seq = Math.floor(m.n / keys.length);
                history.deliver(String(m.n));
                if (running.has(key)) violations.push(`${key}: #${seq} started while an earlier one ran`);
                if (seq !== next.get(key)) violations.push(`${key}: #${seq} arrived when #${next.get(key)} was due`);
                running.add(key);
                await new Promise<void>((resolve) => setImmediate(resolve)); // a turn for another handler of the key to start, if it could
                running.delete(key);
                next.set(key, seq + 1);
                history.effect(String(m.n));
              }),
            { concurrency: 8, prefetch: 16 },
          );
          return bus;
        });
        history.onChange(() => env.waiter.notify());
        for (const bus of instances) await bus.start();
        const sender = env.bus('keys-sender');
        await sender.start();
        // One publisher per key, each awaiting its publishes in order: that is the order to keep.
        await Promise.all(
          keys.map(async (key, k) => {
            for (let seq = 0; seq < count / keys.length; seq++) {
              const n = seq * keys.length + k;
              if (n >= count) break;
              await history.publish(String(n), () => sender.send(Job, { n, key }));
            }
          }),
        );
        await env.until(() => history.allConfirmedDone(), `all ${count} keyed messages done`);
        const check = judge(`${count.toLocaleString('en')} messages, 16 keys, concurrency 8, two instances`, transport, history, meter, {
          violations: violations.length,
        });
        expect(violations.slice(0, 10), describeCheck(check)).toEqual([]);
        expect(check.confirmed).toBe(count);
        expect(check.duplicated).toEqual([]);
      },
      { needs: ['orderingKeys'], timeoutMs: 120_000, heavy },
    );
  keyed(320, false);
  keyed(1000, true);

  test(
    'a process publishing and consuming SIGKILLed mid-stream: every publish it saw confirmed is delivered',
    async (env) => {
      const Job = env.command('fault-publisher-kill', Work);
      const endpoint = env.name('fault-publisher-kill');
      env.track(endpoint);
      const history = new QueueHistory();
      const meter = startMeter();
      const count = 1000;
      for (const n of range(count)) history.attempt(String(n)); // what the process may have sent
      const doomed = child(env, { service: 'publisher-doomed', endpoint, type: Job.name, prefetch: 10, concurrency: 5, publish: count });
      try {
        // A child's start is slow on a loaded machine (tsx compiles the sources; several transports'
        // suites start processes at once): the waits take most of the case's time, not a fixed minute.
        await doomed.waitFor(/^ready$/, 150_000);
        await doomed.waitFor(/^sent \d+$/, 60_000, 50); // 50 confirmed (any 50: publishes run in parallel), more in flight
        doomed.kill('SIGKILL');
        await doomed.exited;
        absorb(history, doomed.lines);
        const survivor = recordingConsumer(env, 'publisher-kill-survivor', endpoint, Job, history, { concurrency: 8, prefetch: 16 });
        history.onChange(() => env.waiter.notify());
        await survivor.start();
        await env.until(() => history.allConfirmedDone(), 'every publish the killed process saw confirmed to be done');
        const check = judge('publishing and consuming process SIGKILLed', transport, history, meter, {
          confirmedBeforeKill: history.confirmed.size,
        });
        expect(check.confirmed, describeCheck(check)).toBeGreaterThanOrEqual(50);
      } finally {
        doomed.kill('SIGKILL');
        await doomed.exited;
      }
    },
    { needs: ['processes'], timeoutMs: 240_000 },
  );
}
