/**
 * The fault scenarios as a suite any transport target runs, each judged by the total-queue checker
 * ({@link checkQueue}): every message has a unique id; the run records what was attempted,
 * confirmed, delivered and done; it is valid when nothing confirmed was lost and nothing
 * unexpected arrived, and each scenario states what it allows beyond that (duplicates after a
 * crash; none after a graceful stop or without faults).
 *
 * The representative scenarios run in `npm test`; heavy ones (`heavy`) are skipped there, saying
 * so, and run under `npm run chaos` (`MISSIVE_CHAOS=1`). Scenarios that need processes run only on
 * targets that declare `processes`. Set `MISSIVE_FAULT_REPORT=<file>` to collect the figures.
 *
 * @example
 * ```ts
 * import { describeFaultScenarios } from '@missive/testing';
 * describeFaultScenarios({ name: 'sqlite', features: { processes: true }, setup: () => ({ url, connect }) });
 * ```
 * @module
 */
import { describe, expect } from 'vitest';
import { range, type CaseRegistrar } from '../conformance/case.js';
import type { ConformanceTarget } from '../conformance/environment.js';
import { caseRegistrar } from '../conformance/transport-suite.js';
import { startMeter } from './fault-report.js';
import { absorb, child, judge, recordingConsumer, sendAll, Work } from './fault-support.js';
import { networkScenarios } from './network-scenarios.js';
import { processScenarios } from './process-scenarios.js';
import { describeCheck, QueueHistory } from './queue-checker.js';
import { resourceScenarios } from './resource-scenarios.js';

/** Options of {@link describeFaultScenarios}. */
export interface FaultScenarioOptions {
  /** Registers only the scenarios whose name this accepts (a target made for one scenario). */
  readonly only?: (scenario: string) => boolean;
  /**
   * The target's share of `npm test`: scenarios this rejects run only under `npm run chaos`
   * (skipped in `npm test` saying so). Default: every scenario not heavy. CI time is shared by
   * every transport: a target with slow connections picks a representative few.
   */
  readonly ci?: (scenario: string) => boolean;
}

/** Registers the fault scenarios for `target` with vitest. */
export function describeFaultScenarios(target: ConformanceTarget, options: FaultScenarioOptions = {}): void {
  describe(`fault scenarios: ${target.name}`, () => {
    const registrar = caseRegistrar(target);
    const { only, ci } = options;
    faultScenarios((name, body, caseOptions = {}) => {
      if (only !== undefined && !only(name)) return;
      registrar(name, body, ci === undefined || ci(name) ? caseOptions : { ...caseOptions, heavy: true });
    }, target.name);
  });
}

/** Registers the scenarios with a case registrar. */
export function faultScenarios(test: CaseRegistrar, transport: string): void {
  test(
    'consumer SIGKILLed holding unsettled messages: nothing confirmed is lost',
    async (env) => {
      const Job = env.command('fault-kill', Work);
      const endpoint = env.name('fault-kill');
      env.track(endpoint);
      const history = new QueueHistory();
      const meter = startMeter();
      const doomed = child(env, { service: 'doomed', endpoint, type: Job.name, prefetch: 10, concurrency: 5, workMs: 5 });
      try {
        await doomed.waitFor(/^ready$/, 60_000);
        const sender = env.bus('fault-kill-sender');
        await sender.start();
        await sendAll(history, 300, 20, (n) => sender.send(Job, { n }));
        await doomed.waitFor(/^done (4\d|[5-9]\d|\d{3})\b/, 60_000); // mid-stream: some done, many held
        doomed.kill('SIGKILL');
        await doomed.exited;
        absorb(history, doomed.lines);
        const survivor = recordingConsumer(env, 'fault-kill-survivor', endpoint, Job, history, { concurrency: 8, prefetch: 16 });
        history.onChange(() => env.waiter.notify());
        await survivor.start();
        await env.until(() => history.allConfirmedDone(), 'every confirmed job done after the kill');
        const check = judge('consumer SIGKILLed holding unsettled messages', transport, history, meter);
        // Redelivered: only what the killed process held (at most its prefetch), never more.
        expect(check.duplicated.length).toBeLessThanOrEqual(10);
      } finally {
        doomed.kill('SIGKILL');
        await doomed.exited;
      }
    },
    { needs: ['processes'], timeoutMs: 180_000 },
  );

  test(
    'SIGTERM mid-work: drained, completed work never redelivered',
    async (env) => {
      const Job = env.command('fault-term', Work);
      const endpoint = env.name('fault-term');
      env.track(endpoint);
      const history = new QueueHistory();
      const meter = startMeter();
      const worker = child(env, { service: 'terminated', endpoint, type: Job.name, prefetch: 16, concurrency: 8, workMs: 20 });
      try {
        await worker.waitFor(/^ready$/, 60_000);
        const sender = env.bus('fault-term-sender');
        await sender.start();
        await sendAll(history, 300, 20, (n) => sender.send(Job, { n }));
        await worker.waitFor(/^done (3\d|[4-9]\d|\d{3})\b/, 60_000);
        worker.kill('SIGTERM');
        expect(await worker.exited, `exit of the stopped worker; stderr: ${worker.stderr().slice(-2000)}`).toBe(0);
        absorb(history, worker.lines);
        const next = recordingConsumer(env, 'fault-term-next', endpoint, Job, history, { concurrency: 8, prefetch: 16 });
        history.onChange(() => env.waiter.notify());
        await next.start();
        await env.until(() => history.allConfirmedDone(), 'every confirmed job done by the next instance');
        const check = judge('SIGTERM mid-work, drained', transport, history, meter);
        expect(check.duplicatedEffects, describeCheck(check)).toEqual([]);
      } finally {
        worker.kill('SIGKILL');
        await worker.exited;
      }
    },
    { needs: ['processes'], timeoutMs: 180_000 },
  );

  test(
    'poison message: exactly the configured attempts with backoff, then the dead-letter queue, while others flow',
    async (env) => {
      const Job = env.command('fault-poison', Work);
      const endpoint = env.name('fault-poison');
      const history = new QueueHistory();
      const meter = startMeter();
      const poison = 7;
      const attempts: number[] = [];
      const consumer = env.bus('fault-poison', { retry: { immediate: 1, delayed: { attempts: 2, initialMs: 100, factor: 2, jitter: 0 } } });
      const dead: string[] = [];
      consumer.on('dead-lettered', (event) => void (dead.push(event.reason), env.waiter.notify()));
      consumer.endpoint(
        endpoint,
        (e) =>
          e.on(Job, (m) => {
            history.deliver(String(m.n));
            if (m.n === poison) {
              attempts.push(env.clock.now());
              throw new Error('poison');
            }
            history.effect(String(m.n));
          }),
        { concurrency: 4 },
      );
      history.onChange(() => env.waiter.notify());
      await consumer.start();
      await sendAll(history, 50, 10, (n) => consumer.send(Job, { n }));
      await env.until(
        () => dead.length === 1 && range(50).every((n) => n === poison || history.effects.has(String(n))),
        'the others done and the poison dead-lettered',
      );
      // (1 + 1 immediate) x (1 + 2 delayed) invocations, the delayed ones after 100 and 200 ms.
      expect(attempts).toHaveLength(6);
      expect(attempts[2]! - attempts[1]!).toBeGreaterThanOrEqual(100);
      expect(attempts[4]! - attempts[3]!).toBeGreaterThanOrEqual(200);
      const letters = await consumer.deadLetters.list(endpoint);
      expect(letters.map((l) => l.failure.attempts)).toEqual([6]);
      // The poison is the one message without an effect; it was delivered (3 times).
      history.effect(String(poison));
      const check = judge('poison message then DLQ, others flow', transport, history, meter);
      expect(check.duplicated).toEqual([String(poison)]);
    },
    { timeoutMs: 60_000 },
  );

  const competing = (count: number, heavy: boolean) =>
    test(
      `8 competing workers x ${count} jobs: every job once, none run twice`,
      async (env) => {
        const Job = env.command(`fault-compete-${count}`, Work);
        const endpoint = env.name(`fault-compete-${count}`);
        const history = new QueueHistory();
        const meter = startMeter();
        const workers = range(8).map((i) => recordingConsumer(env, `worker-${i}`, endpoint, Job, history, { concurrency: 4, prefetch: 8 }));
        history.onChange(() => env.waiter.notify());
        for (const worker of workers) await worker.start();
        const sender = env.bus('fault-compete-sender');
        await sender.start();
        await sendAll(history, count, 32, (n) => sender.send(Job, { n }));
        await env.until(() => history.allConfirmedDone(), `all ${count} jobs done`);
        const check = judge(`8 competing workers x ${count} jobs`, transport, history, meter);
        expect(check.duplicated, describeCheck(check)).toEqual([]);
        expect(check.confirmed).toBe(count);
      },
      { timeoutMs: heavy ? 600_000 : 60_000, heavy },
    );
  competing(400, false);
  competing(10_000, true);

  test(
    'stop a publisher right after 10k parallel publishes: every confirmed one is delivered',
    async (env) => {
      const Job = env.command('fault-flush', Work);
      const endpoint = env.name('fault-flush');
      const history = new QueueHistory();
      const meter = startMeter();
      const consumer = recordingConsumer(env, 'fault-flush-consumer', endpoint, Job, history, { concurrency: 16, prefetch: 64 });
      history.onChange(() => env.waiter.notify());
      await consumer.start();
      const publisher = env.bus('fault-flush-publisher');
      await publisher.start();
      const sends = range(10_000).map((n) => history.publish(String(n), () => publisher.send(Job, { n })));
      await publisher.stop();
      await Promise.all(sends);
      expect(history.confirmed.size + history.failed.size).toBe(10_000);
      await env.until(() => history.allConfirmedDone(), 'every confirmed publish delivered');
      judge('stop right after 10k parallel publishes', transport, history, meter);
    },
    { timeoutMs: 600_000, heavy: true },
  );

  test(
    'nack storm: several consumers fail half their first attempts; everything is done, nothing lost',
    async (env) => {
      const Job = env.command('fault-storm', Work);
      const endpoint = env.name('fault-storm');
      const history = new QueueHistory();
      const meter = startMeter();
      const count = 2000;
      const buses = range(4).map((i) => {
        const bus = env.bus(`storm-${i}`, { retry: { immediate: 0, delayed: { attempts: 5, initialMs: 10, factor: 1, jitter: 0 } } });
        bus.endpoint(
          endpoint,
          (e) =>
            e.on(Job, (m, ctx) => {
              history.deliver(String(m.n));
              if (ctx.attempt === 1 && m.n % 2 === 0) throw new Error('storm');
              history.effect(String(m.n));
            }),
          { concurrency: 8, prefetch: 16 },
        );
        return bus;
      });
      history.onChange(() => env.waiter.notify());
      for (const bus of buses) await bus.start();
      await sendAll(history, count, 32, (n) => buses[0]!.send(Job, { n }));
      await env.until(() => history.allConfirmedDone(), 'every job done through the storm');
      const check = judge('nack storm from 4 consumers', transport, history, meter);
      expect(check.duplicatedEffects).toEqual([]);
    },
    { timeoutMs: 600_000, heavy: true },
  );

  test(
    'subscribe/close cycles while publishing: nothing lost',
    async (env) => {
      const Job = env.command('fault-cycles', Work);
      const endpoint = env.name('fault-cycles');
      const history = new QueueHistory();
      const meter = startMeter();
      history.onChange(() => env.waiter.notify());
      const publisher = env.bus('cycles-publisher');
      publisher.endpoint(endpoint, (e) => e.on(Job, (m) => void (history.deliver(String(m.n)), history.effect(String(m.n)))), {
        concurrency: 4,
      });
      await publisher.start(); // declares the queue and consumes too
      let next = 0;
      for (let cycle = 0; cycle < 20; cycle++) {
        // Each cycle publishes a batch while a new consumer starts, takes some, and is closed twice at once.
        const first = next;
        next += 30;
        const sending = sendAll(history, 30, 5, (n) => publisher.send(Job, { n }), first);
        const bus = recordingConsumer(env, `cycle-${cycle}`, endpoint, Job, history, { concurrency: 2, prefetch: 4 });
        await bus.start();
        await env.until(() => history.delivered.size > cycle * 20, `deliveries to go on in cycle ${cycle}`);
        await Promise.all([bus.stop(), bus.stop()]); // concurrent closes
        await sending;
      }
      await env.until(() => history.allConfirmedDone(), 'every confirmed job done');
      judge('subscribe/close cycles while publishing', transport, history, meter);
    },
    { timeoutMs: 600_000, heavy: true },
  );

  test(
    '10k messages from 100 parallel publishers, the broker SIGKILLed and restarted at a third and at a half: nothing confirmed is lost',
    async (env) => {
      const broker = env.fixture.broker;
      if (broker === undefined) throw new Error('the target declares brokerRestart but its fixture has no broker');
      const Job = env.command('fault-broker-kill', Work);
      const endpoint = env.name('fault-broker-kill');
      const history = new QueueHistory();
      const meter = startMeter();
      const consumer = recordingConsumer(env, 'broker-kill-consumer', endpoint, Job, history, { concurrency: 16, prefetch: 64 });
      history.onChange(() => env.waiter.notify());
      await consumer.start();
      const publisher = env.bus('broker-kill-publisher');
      await publisher.start();
      const count = 10_000;
      let settled = 0;
      const publishing = sendAll(history, count, 100, (n) =>
        publisher.send(Job, { n }).finally(() => void (settled++, env.waiter.notify())),
      );
      for (const at of [Math.floor(count / 3), Math.floor(count / 2)]) {
        await env.until(() => settled >= at, `${at} publishes settled`);
        await broker.kill();
        await broker.start();
      }
      await publishing;
      expect(history.confirmed.size + history.failed.size).toBe(count);
      await env.until(() => history.allConfirmedDone(), 'every confirmed publish delivered after the restarts');
      const check = judge('10k from 100 publishers, broker SIGKILLed twice', transport, history, meter);
      expect(check.confirmed, describeCheck(check)).toBeGreaterThan(0);
    },
    { needs: ['brokerRestart'], timeoutMs: 900_000, heavy: true },
  );

  networkScenarios(test, transport);
  processScenarios(test, transport);
  resourceScenarios(test, transport);
}
