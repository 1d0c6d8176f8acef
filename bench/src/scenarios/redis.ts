/**
 * redis: Missive on `@missive/redis` against raw ioredis (`XADD` / `XREADGROUP` / `XACK`, see
 * `subjects/raw-redis.ts` for what it leaves out) and against BullMQ, all on the same Redis, one
 * publisher process and one consumer process each, same prefetch and at most the same number of
 * unconfirmed publishes. This machine's Redis keeps nothing on disk, for all three alike. When
 * `MISSIVE_BASELINE_DIR` names a build of an earlier commit, its `@missive/redis` runs too ("before").
 *
 * @module
 */
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { REDIS_URL } from '../harness/machine.js';
import { comparisonTable } from '../harness/report.js';
import { alternate, runBroker, type Subject } from '../harness/rounds.js';
import type { Scenario } from '../harness/scenario.js';
import { runId } from '../harness/time.js';
import { cleanupAll } from './cleanup.js';
import { rabbitPlan } from './rabbitmq.js';

async function deletePrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
  await redis.quit();
}

export const redis: Scenario = {
  name: 'redis',
  title: 'redis: Missive vs raw ioredis streams and BullMQ',
  budgetMs: 200_000,
  facts: { redis: true, packages: ['ioredis', 'bullmq', 'zod'] },
  async run(ctx) {
    const id = runId();
    const prefix = `bench-missive-${id}`;
    const common = { prefetch: 32, concurrency: 16 };
    const baselineDir = process.env.MISSIVE_BASELINE_DIR;
    const before: Subject[] =
      baselineDir === undefined
        ? []
        : [
            {
              label: 'Missive before (Redis Streams)',
              module: 'subjects/missive-bus.js',
              args: {
                ...common,
                name: `bench-redis-base-${id}`,
                url: `${REDIS_URL}?prefix=${prefix}`,
                transportModule: join(baselineDir, 'packages', 'redis', 'dist', 'index.js'),
              },
              note: `the @missive/redis of the build in ${baselineDir}, with this checkout's core`,
            },
          ];
    const subjects: Subject[] = [
      ...before,
      {
        label: 'Missive (Redis Streams)',
        module: 'subjects/missive-bus.js',
        args: { ...common, name: `bench-redis-${id}`, url: `${REDIS_URL}?prefix=${prefix}` },
        note: 'publish routed by topic in a script (routing version checked per batch); ack is XACK + XDEL (a reclaim writes the message again under a new id, so a late ack settles nothing); schema checked both ways; endpoint concurrency 16',
      },
      {
        label: 'Missive, batch entries (?batch=64)',
        module: 'subjects/missive-bus.js',
        args: { ...common, name: `bench-redis-batch-${id}`, url: `${REDIS_URL}?prefix=${prefix}&batch=64` },
        note: "the same with the transport's opt-in `batch` option: a turn's publishes to one stream share entries of up to 64 messages (same confirmation and ack guarantees; a consumer may hold up to 63 beyond its prefetch)",
      },
      {
        label: 'raw ioredis (XADD / XREADGROUP / XACK + XDEL)',
        module: 'subjects/raw-redis.js',
        args: { ...common, name: `bench-raw-${id}` },
        note: 'one read of up to 32 entries, handled, acked and deleted in one XACK and one XDEL',
      },
      {
        label: 'BullMQ',
        module: '../peers/dist/subjects/bullmq.js',
        args: { ...common, name: `bench-bullmq-${id}` },
        note: 'job queue; worker concurrency 16, jobs removed on completion',
      },
    ];
    const plan = rabbitPlan(ctx.quick);
    const rounds = ctx.rounds ?? (ctx.quick ? 1 : 3);
    try {
      const { rows, rounds: ran } = await alternate(subjects, { rounds, deadline: ctx.deadline - 20_000, log: ctx.log }, (s, row) =>
        runBroker(s, row, plan),
      );
      return [
        `${ran} rounds, alternating; per round and system a fresh publisher process and consumer process: ${plan.warmup.toLocaleString('en-US')} warm-up messages, ${plan.count.toLocaleString('en-US')} published with at most ${plan.window} unconfirmed (throughput: first publish to last handled), then ${plan.latencyCount.toLocaleString('en-US')} at ${plan.rate.toLocaleString('en-US')} msg/s (latency: publish call in one process to handler entry in the other). Prefetch 32 everywhere.`,
        '',
        comparisonTable(rows, 'Missive (Redis Streams)', { rate: `${plan.rate / 1000}k/s` }),
      ].join('\n');
    } finally {
      await cleanupAll(subjects, ctx.log);
      await deletePrefix(prefix).catch((error: unknown) => ctx.log(`  cleanup of ${prefix} failed: ${(error as Error).message}`));
    }
  },
};
