/**
 * peers: Missive on RabbitMQ against peer frameworks on the same broker (Rascal, @node-ts/bus,
 * Moleculer with @moleculer/channels), and BullMQ on Redis as the job-queue comparison. Durable
 * classic queues and persistent messages wherever the peer allows; what each cannot hold equal is
 * written next to its row.
 *
 * @module
 */
import { AMQP_URL } from '../harness/machine.js';
import { comparisonTable } from '../harness/report.js';
import { alternate, runBroker, type Subject } from '../harness/rounds.js';
import type { Scenario } from '../harness/scenario.js';
import { runId } from '../harness/time.js';
import { cleanupAll } from './cleanup.js';
import { rabbitPlan } from './rabbitmq.js';

export const peers: Scenario = {
  name: 'peers',
  title: 'peers: Missive vs peer frameworks',
  budgetMs: 200_000,
  facts: {
    rabbitmq: true,
    redis: true,
    packages: ['amqplib', 'rascal', '@node-ts/bus-core', '@node-ts/bus-rabbitmq', 'moleculer', '@moleculer/channels', 'bullmq', 'zod'],
  },
  async run(ctx) {
    const id = runId();
    const common = { prefetch: 32, concurrency: 16 };
    const subjects: Subject[] = [
      {
        label: 'Missive (RabbitMQ, classic queue)',
        module: 'subjects/missive-bus.js',
        args: { ...common, name: `bench-peer-missive-${id}`, url: `${AMQP_URL}?queueType=classic` },
        note: 'confirms, persistent, manual ack; schema checked both ways',
      },
      {
        label: 'Rascal (RabbitMQ)',
        module: '../peers/dist/subjects/rascal.js',
        args: { ...common, name: `bench-peer-rascal-${id}` },
        note: 'confirms, persistent, manual ack (its defaults); no schema',
      },
      {
        label: '@node-ts/bus (RabbitMQ)',
        module: '../peers/dist/subjects/node-ts-bus.js',
        args: { ...common, name: `bench-peer-nodets-${id}` },
        note: 'not equal: no publisher confirms and non-persistent messages (its transport has no option for either); consumes by basic.get polling, which caps it far below the others, so it runs one round of 1,000 messages and no latency phase (its throughput is below the fixed rate); concurrency 16',
        maxRounds: 1,
        plan: { warmup: 100, count: 1_000, latencyCount: 0 },
      },
      {
        label: 'Moleculer + @moleculer/channels (AMQP)',
        module: '../peers/dist/subjects/moleculer-channels.js',
        args: { ...common, name: `bench-peer-moleculer-${id}` },
        note: 'not equal: no publisher confirms (the adapter has none); persistent messages, durable queue, maxInFlight 32; Moleculer 0.14 (0.15 needs Node 22)',
      },
      {
        label: 'BullMQ (Redis)',
        module: '../peers/dist/subjects/bullmq.js',
        args: { ...common, name: `bench-peer-bullmq-${id}` },
        note: 'job queue on Redis; not equal: this Redis keeps nothing on disk; worker concurrency 16, jobs removed on completion',
      },
    ];
    const plan = { ...rabbitPlan(ctx.quick), count: ctx.quick ? 3_000 : 10_000, latencyCount: ctx.quick ? 500 : 2_000, timeoutMs: 45_000 };
    const rounds = ctx.rounds ?? (ctx.quick ? 1 : 3);
    try {
      const { rows, rounds: ran } = await alternate(subjects, { rounds, deadline: ctx.deadline - 30_000, log: ctx.log }, (s, row) =>
        runBroker(s, row, plan),
      );
      return [
        `${ran} rounds, alternating; per round and system a fresh publisher process and consumer process: ${plan.warmup.toLocaleString('en-US')} warm-up messages, ${plan.count.toLocaleString('en-US')} published with at most ${plan.window} unconfirmed (throughput), then ${plan.latencyCount.toLocaleString('en-US')} at ${plan.rate.toLocaleString('en-US')} msg/s (latency). Prefetch 32 (or its equivalent) everywhere.`,
        '',
        comparisonTable(rows, 'Missive (RabbitMQ, classic queue)', { rate: `${plan.rate / 1000}k/s` }),
      ].join('\n');
    } finally {
      await cleanupAll(subjects, ctx.log);
    }
  },
};
