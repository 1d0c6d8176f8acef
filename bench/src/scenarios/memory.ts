/**
 * memory: Missive's memory transport against the ceiling (a bare in-process handoff) and against
 * Moleculer's local events, one process each, same payload; Missive checks the payload against its
 * zod schema on publish and on receipt. Then the per-message cost breakdown of Missive's path.
 *
 * @module
 */
import { spawnChild } from '../harness/child.js';
import type { Breakdown } from '../profile/breakdown.js';
import { comparisonTable } from '../harness/report.js';
import { alternate, runPair, type Subject } from '../harness/rounds.js';
import type { Scenario } from '../harness/scenario.js';
import { runId } from '../harness/time.js';
import { breakdownTable } from '../profile/breakdown-table.js';

export const memory: Scenario = {
  name: 'memory',
  title: 'memory: in-process transport',
  budgetMs: 90_000,
  facts: { packages: ['moleculer', 'zod'] },
  async run(ctx) {
    const id = runId();
    const base = { name: `bench-memory-${id}`, prefetch: 16, concurrency: 8 };
    const subjects: Subject[] = [
      {
        label: 'Missive (memory://)',
        module: 'subjects/missive-memory.js',
        args: base,
        note: "endpoint concurrency 8, prefetch 16 (the defaults); schema checked on publish and on receipt; the envelope copied as JSON would carry it (the codec's copy, no bytes: see the core README)",
      },
      {
        label: 'Missive (memory://), no backlog',
        module: 'subjects/missive-memory.js',
        args: { ...base, name: `bench-memory-nb-${id}`, bounded: true },
        note: 'the same, but the publisher sends 100, waits until they are handled, and repeats: no backlog builds up in the queue (see the profile below)',
      },
      {
        label: 'bare handoff (ceiling)',
        module: 'subjects/bare-handoff.js',
        args: base,
        note: 'array push + one microtask drain; the object itself is handed over',
      },
      {
        label: 'Moleculer local events',
        module: '../peers/dist/subjects/moleculer-local.js',
        args: base,
        note: 'ServiceBroker without transporter, `broker.emit`; the object itself is handed over, no schema',
      },
    ];
    const rounds = ctx.rounds ?? (ctx.quick ? 2 : 5);
    const plan = {
      warmup: ctx.quick ? 5_000 : 20_000,
      count: ctx.quick ? 50_000 : 100_000,
      window: 100,
      latencyCount: ctx.quick ? 3_000 : 10_000,
      rate: 10_000,
      timeoutMs: 30_000,
    };
    const { rows, rounds: ran } = await alternate(subjects, { rounds, deadline: ctx.deadline - 10_000, log: ctx.log }, (subject, row) =>
      runPair(subject, row, plan),
    );
    ctx.log('  cost breakdown of the Missive path');
    let breakdown: string;
    try {
      const { result } = await spawnChild<Breakdown>('profile/breakdown.js', 'breakdown', { quick: ctx.quick }, { timeoutMs: 30_000 }).done;
      breakdown = breakdownTable(result);
    } catch (error) {
      breakdown = `The breakdown failed: ${(error as Error).message}`;
    }
    return [
      `${ran} rounds, alternating; per round and system one fresh process: ${plan.warmup.toLocaleString('en-US')} warm-up messages, then ${plan.count.toLocaleString('en-US')} published with at most ${plan.window} unconfirmed (throughput), then ${plan.latencyCount.toLocaleString('en-US')} at ${plan.rate.toLocaleString('en-US')} msg/s (latency, publish call to handler entry).`,
      '',
      comparisonTable(rows, 'Missive (memory://)', { rate: `${plan.rate / 1000}k/s` }),
      '',
      "### Where Missive's per-message time goes (memory transport)",
      '',
      breakdown,
    ].join('\n');
  },
};
