/**
 * Multi-process cases: consumers in child processes, one of them killed with SIGKILL. For
 * transports that several processes share (the target declares `processes` and gives a URL).
 *
 * @example
 * ```ts
 * processCases(test);
 * ```
 * @module
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { z } from 'zod';
import { startProcess, type TestProcess } from '../processes.js';
import { range, type CaseRegistrar } from './case.js';
import type { Environment } from './environment.js';

const script = join(dirname(fileURLToPath(import.meta.url)), 'child-consumer.ts');

/** Starts `child-consumer.ts` on the target's URL with `config`. */
export function child(env: Environment, config: Record<string, unknown>): TestProcess {
  const url = env.fixture.url;
  if (url === undefined) throw new Error('the target declares processes but its fixture has no url');
  return startProcess(process.execPath, ['--import', 'tsx', '--conditions=@missive/source', script, JSON.stringify({ url, ...config })]);
}

function done(lines: readonly string[]): { n: number; key: string; start: number; end: number }[] {
  return lines
    .filter((l) => l.startsWith('done '))
    .map((l) => {
      const [, n, key, start, end] = l.split(' ');
      return { n: Number(n), key: key!, start: Number(start), end: Number(end) };
    });
}

/**
 * Sends jobs `0..count-1` of every key: one key's jobs one after another (each send confirmed before
 * the next: the order the case checks), the keys side by side (one key's sends never wait for another's).
 */
async function sendInKeyOrder(keys: readonly string[], count: number, send: (n: number, key: string) => Promise<unknown>): Promise<void> {
  await Promise.all(
    keys.map(async (key) => {
      for (const n of range(count)) await send(n, key);
    }),
  );
}

/** Registers the multi-process cases. */
export function processCases(test: CaseRegistrar): void {
  test(
    'competing consumers in separate processes share the work and together get everything',
    async (env) => {
      const Work = env.command('proc-work', z.object({ n: z.number(), key: z.string().optional() }));
      const endpoint = env.name('proc-workers');
      env.track(endpoint);
      const children = range(2).map((i) =>
        child(env, { service: `worker-${i}`, endpoint, type: Work.name, prefetch: 2, concurrency: 2, workMs: 10 }),
      );
      try {
        await Promise.all(children.map((c) => c.waitFor(/^ready$/)));
        const sender = env.bus('proc-sender');
        await sender.start();
        await Promise.all(range(200).map((n) => sender.send(Work, { n })));
        await env.until(
          () => children.reduce((sum, c) => sum + done(c.lines).length, 0) >= 200,
          '200 messages handled by the two processes',
        );
        const all = children.flatMap((c) => done(c.lines).map((d) => d.n));
        expect(all.length).toBe(200);
        expect(new Set(all).size).toBe(200);
        for (const c of children)
          expect(done(c.lines).length, `lines: ${c.lines.slice(0, 3).join(' / ')} stderr: ${c.stderr().slice(0, 500)}`).toBeGreaterThan(0);
      } finally {
        for (const c of children) c.kill('SIGKILL');
        await Promise.all(children.map((c) => c.exited));
      }
    },
    { needs: ['processes'], timeoutMs: 60_000 },
  );

  test(
    'a consumer process killed with SIGKILL has its un-acked messages redelivered to another',
    async (env) => {
      const Work = env.command('proc-crash', z.object({ n: z.number(), key: z.string().optional() }));
      const endpoint = env.name('proc-crash');
      env.track(endpoint);
      const doomed = child(env, { service: 'doomed', endpoint, type: Work.name, prefetch: 5, concurrency: 5, hang: true });
      try {
        await doomed.waitFor(/^ready$/);
        const sender = env.bus('crash-sender');
        await sender.start();
        for (const n of range(10)) await sender.send(Work, { n });
        await env.until(() => doomed.lines.filter((l) => l.startsWith('got ')).length === 5, 'the doomed consumer to take five');
        doomed.kill('SIGKILL');
        await doomed.exited;
        const survivor = env.bus('survivor');
        const got: { n: number; attempt: number }[] = [];
        survivor.endpoint(endpoint, (e) => e.on(Work, (m, ctx) => void got.push({ n: m.n, attempt: ctx.attempt })), { concurrency: 4 });
        await survivor.start();
        await env.until(() => got.length === 10, 'all ten on the survivor');
        expect(got.map((g) => g.n).sort((a, b) => a - b)).toEqual(range(10));
        // ctx.attempt survives the crash: a message whose handler ran in the killed process is on its second attempt.
        const ranBefore = new Set(doomed.lines.filter((l) => l.startsWith('got ')).map((l) => Number(l.split(' ')[1])));
        for (const g of got)
          expect(g.attempt, `attempt of #${g.n} (${ranBefore.has(g.n) ? 'ran' : 'did not run'} in the killed process)`).toBe(
            ranBefore.has(g.n) ? 2 : 1,
          );
      } finally {
        doomed.kill('SIGKILL');
        await doomed.exited;
      }
    },
    { needs: ['processes'], timeoutMs: 60_000 },
  );

  test(
    'per-key order holds across two consumer processes',
    async (env) => {
      const Work = env.command('proc-keyed', z.object({ n: z.number(), key: z.string().optional() }), { partitionKey: (m) => m.key ?? '' });
      const endpoint = env.name('proc-keyed');
      env.track(endpoint);
      const children = range(2).map((i) =>
        child(env, { service: `keyed-${i}`, endpoint, type: Work.name, keyed: true, prefetch: 4, concurrency: 2, workMs: 10 }),
      );
      try {
        await Promise.all(children.map((c) => c.waitFor(/^ready$/)));
        const sender = env.bus('keyed-sender');
        await sender.start();
        const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']; // enough keys that both instances own some (RabbitMQ partitions them)
        await sendInKeyOrder(keys, 20, (n, key) => sender.send(Work, { n, key }));
        await env.until(() => children.reduce((sum, c) => sum + done(c.lines).length, 0) >= 20 * keys.length, 'every keyed message');
        const all = children.flatMap((c) => done(c.lines));
        for (const key of keys) {
          const runs = all.filter((d) => d.key === key).sort((x, y) => x.start - y.start);
          expect(runs.map((r) => r.n)).toEqual(range(20));
          for (let i = 1; i < runs.length; i++) expect(runs[i]!.start).toBeGreaterThanOrEqual(runs[i - 1]!.end);
        }
        expect(children.every((c) => done(c.lines).length > 0)).toBe(true);
      } finally {
        for (const c of children) c.kill('SIGKILL');
        await Promise.all(children.map((c) => c.exited));
      }
    },
    { needs: ['processes', 'orderingKeys'], timeoutMs: 60_000 },
  );

  test(
    'per-key order holds when a consumer process holding keys is killed with SIGKILL mid-stream',
    async (env) => {
      const Work = env.command('proc-keyed-kill', z.object({ n: z.number(), key: z.string().optional() }), {
        partitionKey: (m) => m.key ?? '',
      });
      const endpoint = env.name('proc-keyed-kill');
      env.track(endpoint);
      const children = range(2).map((i) =>
        child(env, { service: `keyed-kill-${i}`, endpoint, type: Work.name, keyed: true, prefetch: 4, concurrency: 2, workMs: 15 }),
      );
      const count = 25;
      const keys = ['a', 'b', 'c', 'd', 'e', 'f'];
      try {
        await Promise.all(children.map((c) => c.waitFor(/^ready$/)));
        const sender = env.bus('keyed-kill-sender');
        await sender.start();
        await sendInKeyOrder(keys, count, (n, key) => sender.send(Work, { n, key }));
        await env.until(
          () => children.every((c) => done(c.lines).length > 0) && children.reduce((sum, c) => sum + done(c.lines).length, 0) >= 40,
          'both consumers to work on the keys',
        );
        const [victim, survivor] =
          done(children[0]!.lines).length >= done(children[1]!.lines).length ? [children[0]!, children[1]!] : [children[1]!, children[0]!];
        victim.kill('SIGKILL');
        await victim.exited;
        const finished = () => {
          const all = [...done(victim.lines), ...done(survivor.lines)];
          return keys.every((key) => new Set(all.filter((d) => d.key === key).map((d) => d.n)).size === count);
        };
        await env.until(finished, `every keyed message handled after the kill (the survivor has ${done(survivor.lines).length})`);
        const all = [...done(victim.lines), ...done(survivor.lines)];
        for (const key of keys) {
          const runs = all.filter((d) => d.key === key).sort((x, y) => x.start - y.start);
          // A message the victim finished but could not ack runs again on the survivor, right after.
          const order = runs.map((r) => r.n).filter((n, i, ns) => i === 0 || n !== ns[i - 1]);
          expect(order, `key ${key}`).toEqual(range(count));
          for (let i = 1; i < runs.length; i++)
            expect(runs[i]!.start, `key ${key}: #${runs[i]!.n} started before #${runs[i - 1]!.n} ended`).toBeGreaterThanOrEqual(
              runs[i - 1]!.end,
            );
        }
      } finally {
        for (const c of children) c.kill('SIGKILL');
        await Promise.all(children.map((c) => c.exited));
      }
    },
    { needs: ['processes', 'orderingKeys'], timeoutMs: 90_000 },
  );
}
