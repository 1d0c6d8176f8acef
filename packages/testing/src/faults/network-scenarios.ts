/**
 * The network fault scenarios of issue 13: the broker down for a while (8), the broker restarted
 * while the consumers are idle (9), and a half-open connection (10). The first and the last go
 * through the fault proxy (`startFaultProxy`) in front of the target's broker (feature
 * `networkFaults`); the restart uses the proxy (every connection dropped, as a restart drops them)
 * or, on targets with a broker of their own (`brokerRestart`), a real SIGKILL and start.
 *
 * A half-open connection is made with the proxy's blackhole mode (open connections frozen, new ones
 * accepted and never answered): this machine has no iptables for a network namespace, and the
 * proxy drops packets the same way for the peers (nothing arrives, nothing closes).
 *
 * @example
 * ```ts
 * networkScenarios(test, 'rabbitmq');
 * ```
 * @module
 */
import { expect } from 'vitest';
import { MissiveError } from '@missive/core';
import { gate, range, type CaseRegistrar } from '../conformance/case.js';
import type { Environment, NetworkAccess } from '../conformance/environment.js';
import { startFaultProxy, type FaultProxy } from '../fault-proxy.js';
import { sampleResources, startMeter } from './fault-report.js';
import { faultFor, judge, recordingConsumer, sendAll, Work } from './fault-support.js';
import { describeCheck, QueueHistory } from './queue-checker.js';

/** Runs `body` with a fault proxy in front of the target's broker, closed afterwards. */
async function withProxy(env: Environment, body: (proxy: FaultProxy, network: NetworkAccess) => Promise<void>): Promise<void> {
  const network = env.fixture.network;
  if (network === undefined) throw new Error('the target declares networkFaults but its fixture has no network');
  const proxy = await startFaultProxy({ host: network.host, port: network.port });
  try {
    await body(proxy, network);
  } finally {
    await env.cleanup(); // stops the buses while the proxy still answers, then deletes the queues
    await proxy.close();
  }
}

/** The longest pause between connection attempts in [from, to), ends included. */
function longestGap(attempts: readonly number[], from: number, to: number): number {
  const points = [from, ...attempts.filter((t) => t >= from && t < to), to];
  return Math.max(...points.slice(1).map((t, i) => t - points[i]!));
}

/** Resolves as `promise` does, or rejects saying `what` did not happen within `ms`. */
async function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`not ${what}`)), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Sends as an application would right after an outage: a publish refused with a retryable
 * `MissiveError` (the connection is still coming back) is tried again 100 ms later, up to 100
 * times; any other failure is final.
 */
async function sendRetrying(send: () => Promise<unknown>): Promise<void> {
  for (let tries = 1; ; tries++) {
    try {
      await send();
      return;
    } catch (error) {
      if (!(error instanceof MissiveError) || !error.retryable || tries >= 100) throw error;
      await faultFor(100);
    }
  }
}

/** Registers scenarios 8, 9 and 10. */
export function networkScenarios(test: CaseRegistrar, transport: string): void {
  const outage = (downMs: number, heavy: boolean) =>
    test(
      `broker down ${downMs / 1000} s: capped backoff, bounded buffer, typed errors, flat memory, nothing lost`,
      (env) =>
        withProxy(env, async (proxy, network) => {
          const Job = env.command('fault-down', Work);
          const endpoint = env.name('fault-down');
          const history = new QueueHistory();
          const meter = startMeter();
          history.onChange(() => env.waiter.notify());
          const consumer = recordingConsumer(
            env,
            'down-consumer',
            endpoint,
            Job,
            history,
            { concurrency: 8, prefetch: 16 },
            network.connect(proxy.port),
          );
          const publisher = env.bus('down-publisher', {}, network.connect(proxy.port));
          await consumer.start();
          await publisher.start();
          await sendAll(history, 20, 10, (n) => publisher.send(Job, { n }));
          await env.until(() => history.allConfirmedDone(), 'the first 20 done');
          const before = sampleResources();

          const rejected = new Map<string, number>();
          const untyped: string[] = [];
          let up = false;
          const publish = async (n: number): Promise<boolean> => {
            history.attempt(String(n));
            try {
              await publisher.send(Job, { n });
              history.confirm(String(n));
              return true;
            } catch (error) {
              history.fail(String(n));
              const name = (error as Error).name;
              if (error instanceof MissiveError) rejected.set(name, (rejected.get(name) ?? 0) + 1);
              else untyped.push(`${name}: ${(error as Error).message}`);
              return false;
            }
          };

          // The broker goes away: every connection drops, new ones are refused.
          proxy.refuse(true);
          proxy.cut();
          const downAt = performance.now();
          let next = 20;
          // A burst larger than the publish buffer (where the transport has one), all at once...
          const burst = network.maxBuffered === undefined ? (heavy ? 1000 : 300) : network.maxBuffered + 100;
          let failedWhileDown = 0;
          const bursting = range(burst).map(() => publish(next++).then((ok) => void (ok || up || failedWhileDown++)));
          // ...and four publishers that keep trying, one publish at a time, while it is down (a
          // publisher refused at once tries again 50 ms later, as an application would, rather than
          // spinning on rejections that never let a timer run).
          const lane = async () => {
            while (!up) if (!(await publish(next++))) await faultFor(50);
          };
          const lanes = range(4).map(lane);
          await faultFor(downMs);
          up = true;
          proxy.refuse(false);
          const upAt = performance.now();
          // The first publish the broker confirms after it is back: how long recovery took.
          const recoveryLimit = network.reconnectCapMs * 1.25 + 15_000;
          while (!(await publish(next++))) {
            if (performance.now() - upAt > recoveryLimit)
              throw new Error(`no publish confirmed ${recoveryLimit} ms after the broker came back`);
            await faultFor(50); // refused at once (the buffer is still full): try again shortly
          }
          const recoveredMs = Math.round(performance.now() - upAt);
          await Promise.all([...bursting, ...lanes]);
          await env.until(() => history.allConfirmedDone(), 'every confirmed publish delivered after the outage');
          const after = sampleResources();

          const attempts = proxy.attempts.filter((t) => t >= downAt && t < upAt).length;
          const gapMs = Math.round(longestGap(proxy.attempts, downAt, upAt));
          const notes = {
            downMs,
            recoveredMs,
            reconnectAttempts: attempts,
            longestGapMs: gapMs,
            failedWhileDown,
            rejected: [...rejected].map(([name, count]) => `${name} ${count}`).join(', ') || 'none',
            heapGrowthMb: Math.round((after.heapMb - before.heapMb) * 10) / 10,
            ...(network.unboundedReconnects === undefined ? {} : { knownDefect: network.unboundedReconnects }),
          };
          const check = judge(`broker down ${downMs / 1000} s`, transport, history, meter, notes);
          const summary = `${describeCheck(check)}; ${JSON.stringify(notes)}`;
          expect(untyped, summary).toEqual([]); // every failure is a Missive error with a code
          expect(attempts, summary).toBeGreaterThan(0); // it kept trying
          if (network.unboundedReconnects === undefined) expect(attempts, summary).toBeLessThanOrEqual(downMs / 20 + 20); // not a tight loop: backoff
          if (downMs >= 2 * network.reconnectCapMs) expect(gapMs, summary).toBeLessThanOrEqual(network.reconnectCapMs * 1.25 + 1500); // capped
          expect(recoveredMs, summary).toBeLessThanOrEqual(recoveryLimit);
          if (network.maxBuffered !== undefined) expect(failedWhileDown, summary).toBeGreaterThanOrEqual(100); // the excess fails at once
          expect(after.heapMb - before.heapMb, summary).toBeLessThan(48); // flat: the buffer is bounded
        }),
      { needs: ['networkFaults'], timeoutMs: heavy ? 300_000 : 90_000, heavy },
    );
  outage(2000, false);
  outage(30_000, true);

  test(
    'broker restarted while idle (every connection dropped): consumers resume',
    (env) =>
      withProxy(env, async (proxy, network) => {
        const Job = env.command('fault-idle', Work);
        const endpoint = env.name('fault-idle');
        const history = new QueueHistory();
        const meter = startMeter();
        history.onChange(() => env.waiter.notify());
        const consumer = recordingConsumer(env, 'idle-consumer', endpoint, Job, history, { concurrency: 4 }, network.connect(proxy.port));
        const publisher = env.bus('idle-publisher', {}, network.connect(proxy.port));
        await consumer.start();
        await publisher.start();
        await sendAll(history, 50, 10, (n) => publisher.send(Job, { n }));
        await env.until(() => history.allConfirmedDone(), 'the first 50 done');
        proxy.refuse(true);
        proxy.cut();
        const refused = proxy.refused;
        await env.until(() => proxy.refused > refused, 'a reconnect attempt while the broker is away');
        proxy.refuse(false);
        const upAt = performance.now();
        await sendAll(history, 50, 10, (n) => sendRetrying(() => publisher.send(Job, { n })), 50);
        await env.until(() => history.allConfirmedDone(), 'the 50 sent after the restart done by the same consumer');
        const check = judge('broker restarted while idle (connections dropped)', transport, history, meter, {
          resumedMs: Math.round(performance.now() - upAt),
        });
        expect(check.confirmed, describeCheck(check)).toBe(100);
      }),
    { needs: ['networkFaults'], timeoutMs: 90_000 },
  );

  test(
    'broker restarted while idle (SIGKILL, started again): consumers resume',
    async (env) => {
      const broker = env.fixture.broker;
      if (broker === undefined) throw new Error('the target declares brokerRestart but its fixture has no broker');
      const Job = env.command('fault-idle-kill', Work);
      const endpoint = env.name('fault-idle-kill');
      const history = new QueueHistory();
      const meter = startMeter();
      history.onChange(() => env.waiter.notify());
      const consumer = recordingConsumer(env, 'idle-kill-consumer', endpoint, Job, history, { concurrency: 4 });
      const publisher = env.bus('idle-kill-publisher');
      await consumer.start();
      await publisher.start();
      await sendAll(history, 50, 10, (n) => publisher.send(Job, { n }));
      await env.until(() => history.allConfirmedDone(), 'the first 50 done');
      await broker.kill();
      await broker.start();
      const upAt = performance.now();
      await sendAll(history, 50, 10, (n) => sendRetrying(() => publisher.send(Job, { n })), 50);
      await env.until(() => history.allConfirmedDone(), 'the 50 sent after the restart done by the same consumer');
      const check = judge('broker restarted while idle (SIGKILL)', transport, history, meter, {
        resumedMs: Math.round(performance.now() - upAt),
      });
      expect(check.confirmed, describeCheck(check)).toBe(100);
    },
    { needs: ['brokerRestart'], timeoutMs: 120_000 },
  );

  test(
    'half-open connection (packets dropped): noticed within about two heartbeats, nothing settled twice, nothing lost',
    (env) =>
      withProxy(env, async (proxy, network) => {
        const Job = env.command('fault-half-open', Work);
        const endpoint = env.name('fault-half-open');
        const history = new QueueHistory();
        const meter = startMeter();
        history.onChange(() => env.waiter.notify());
        const held = new Set<string>();
        const release = gate();
        let holding = false;
        // A: through the proxy; once `holding`, its handlers wait until the link is dark, then finish (their acks go nowhere).
        const cutOff = env.bus('half-open-a', {}, network.connect(proxy.port));
        cutOff.endpoint(
          endpoint,
          (e) =>
            e.on(Job, async (m) => {
              history.deliver(String(m.n));
              if (holding) {
                held.add(String(m.n));
                env.waiter.notify();
                await release.promise;
              }
              history.effect(String(m.n));
            }),
          { concurrency: 4, prefetch: 8 },
        );
        const healthy = recordingConsumer(env, 'half-open-b', endpoint, Job, history, { concurrency: 4, prefetch: 8 });
        const publisher = env.bus('half-open-publisher');
        await cutOff.start();
        await healthy.start();
        await publisher.start();
        await sendAll(history, 100, 10, (n) => publisher.send(Job, { n }));
        await env.until(() => history.allConfirmedDone(), 'the first 100 done');
        holding = true;
        await sendAll(history, 200, 10, (n) => publisher.send(Job, { n }), 100);
        await env.until(() => held.size > 0, 'the cut-off consumer to hold deliveries');
        proxy.blackhole(true);
        const darkAt = performance.now();
        const attempts = proxy.attempts.length;
        release.open();
        // Two unanswered heartbeats after the last answered one: up to three intervals, and some slack.
        const limit = 3 * network.heartbeatMs + 2000;
        await within(
          limit * 2,
          env.until(() => proxy.attempts.length > attempts, 'the cut-off consumer to notice the dead link and try a new connection'),
          `the dead link noticed (a new connection tried) within ${limit * 2} ms`,
        );
        const detectedMs = Math.round(performance.now() - darkAt);
        proxy.blackhole(false);
        await env.until(() => history.allConfirmedDone(), 'every confirmed message done');
        const admin = await env.transport();
        await env.eventually(
          () => admin.queues(),
          (queues) => queues.some((q) => q.name === endpoint && q.depth === 0 && q.inFlight === 0),
          'the queue to be empty and settled',
        );
        const check = judge('half-open connection (blackhole)', transport, history, meter, {
          heartbeatMs: network.heartbeatMs,
          detectedMs,
          held: held.size,
        });
        // Only what the cut-off consumer held (its acks lost in the dark) may run again.
        expect(
          check.duplicatedEffects.filter((id) => !held.has(id)),
          describeCheck(check),
        ).toEqual([]);
        expect(detectedMs, describeCheck(check)).toBeLessThanOrEqual(limit);
      }),
    { needs: ['networkFaults', 'halfOpen'], timeoutMs: 120_000 },
  );
}
