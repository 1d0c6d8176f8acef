/**
 * Per-key ordering cases. The rule they prove: messages with the same partition key are handled
 * one at a time, in publish order, within an endpoint, across every instance and whatever the
 * concurrency; different keys run in parallel; a failing message holds its key (later messages
 * with that key wait) until it succeeds or is dead-lettered.
 *
 * @example
 * ```ts
 * orderingCases(test);
 * ```
 * @module
 */
import { expect } from 'vitest';
import { z } from 'zod';
import { range, type CaseRegistrar } from './case.js';

const Keyed = z.object({ key: z.string(), seq: z.number().int() });

/** Registers the ordering cases. */
export function orderingCases(test: CaseRegistrar): void {
  test(
    'same key: one at a time and in order across two instances; different keys in parallel',
    async (env) => {
      const Update = env.command('account-updated', Keyed, { partitionKey: (m) => m.key });
      const endpoint = env.name('accounts');
      const seen = new Map<string, number[]>();
      const running = new Map<string, number>();
      let overlapSameKey = 0;
      let peakParallel = 0;
      let active = 0;
      const instances = range(2).map((i) => {
        const bus = env.bus(`accounts-${i}`);
        bus.endpoint(
          endpoint,
          (e) =>
            e.on(Update, async (m) => {
              const now = (running.get(m.key) ?? 0) + 1;
              running.set(m.key, now);
              if (now > 1) overlapSameKey++;
              active++;
              peakParallel = Math.max(peakParallel, active);
              await new Promise<void>((resolve) => env.clock.setTimeout(resolve, 2 + (m.seq % 3)));
              seen.set(m.key, [...(seen.get(m.key) ?? []), m.seq]);
              active--;
              running.set(m.key, (running.get(m.key) ?? 1) - 1);
            }),
          { concurrency: 4, prefetch: 8 },
        );
        return bus;
      });
      await Promise.all(instances.map((b) => b.start()));
      const keys = ['a', 'b', 'c', 'd'];
      for (const seq of range(15)) for (const key of keys) await instances[seq % 2]!.send(Update, { key, seq });
      await env.until(() => keys.every((k) => (seen.get(k)?.length ?? 0) === 15), 'every key');
      for (const key of keys) expect(seen.get(key)).toEqual(range(15));
      expect(overlapSameKey).toBe(0);
      expect(peakParallel).toBeGreaterThan(1);
    },
    { needs: ['orderingKeys'] },
  );

  test(
    'a failing message holds its key until it succeeds or is dead-lettered',
    async (env) => {
      const Step = env.command('ordered-step', Keyed, { partitionKey: (m) => m.key });
      const endpoint = env.name('ordered-steps');
      const bus = env.bus('ordered', { retry: { immediate: 0, delayed: { attempts: 2, initialMs: 100, factor: 1, jitter: 0 } } });
      const log: string[] = [];
      let failuresOfA0 = 0;
      // a0 succeeds only once b2 is handled: b must get through while a's first message is still
      // unfinished (were b held up by a, this would never end). Waiting on it, not on the retry
      // delays, keeps the case independent of how fast a loaded machine runs b.
      let bDone!: () => void;
      const bFinished = new Promise<void>((resolve) => (bDone = resolve));
      bus.endpoint(
        endpoint,
        (e) =>
          e.on(Step, async (m, ctx) => {
            if (m.key === 'a' && m.seq === 0) {
              if (failuresOfA0 < 2) {
                failuresOfA0++;
                log.push(`a0 failed@${ctx.attempt}`);
                throw new Error('not yet');
              }
              await bFinished;
            }
            if (m.key === 'p' && m.seq === 0) {
              log.push('p0 poisoned');
              throw new Error('never works');
            }
            log.push(`${m.key}${m.seq}`);
            if (m.key === 'b' && m.seq === 2) bDone();
          }),
        { concurrency: 4 },
      );
      await bus.start();
      for (const seq of range(3)) for (const key of ['a', 'b', 'p']) await bus.send(Step, { key, seq });
      await env.until(
        () => log.filter((l) => !l.includes('fail') && !l.includes('poison')).length === 8,
        `all messages except the poisoned one (so far: ${log.join(', ')})`,
      );
      const index = (entry: string) => log.indexOf(entry);
      // a: a0 fails twice and succeeds on the third attempt; a1 and a2 wait for it.
      expect(index('a0')).toBeGreaterThan(index('a0 failed@2'));
      expect(index('a1')).toBeGreaterThan(index('a0'));
      expect(index('a2')).toBeGreaterThan(index('a1'));
      // b is not held up by a (a0 waited for b2 above).
      expect(index('b2')).toBeLessThan(index('a0'));
      // p0 is dead-lettered after its retries; p1 and p2 then run, in order.
      expect(log.filter((l) => l === 'p0 poisoned').length).toBe(3);
      expect(index('p1')).toBeGreaterThan(log.lastIndexOf('p0 poisoned'));
      expect(index('p2')).toBeGreaterThan(index('p1'));
      await env.until(() => bus.stats().endpoints[endpoint]!.deadLettered === 1, 'the dead letter of p0');
    },
    { needs: ['orderingKeys'] },
  );
}
