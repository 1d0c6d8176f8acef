/**
 * rabbitmq: Missive on `@missive/rabbitmq` against raw amqplib with the same guarantees (durable
 * queue of the same type, persistent messages, publisher confirms, manual ack after the handler,
 * same prefetch, same number of unconfirmed publishes), one publisher process and one consumer
 * process each. Raw amqplib runs twice: acking each message (the usual way), and acking each
 * event-loop turn's messages with one `multiple` ack as Missive does; on two cores the broker's
 * work per ack frame shows, so the second is the comparison of the clients' own cost.
 *
 * @module
 */
import { AMQP_URL } from '../harness/machine.js';
import { comparisonTable } from '../harness/report.js';
import { alternate, runBroker, type BrokerPlan, type Subject } from '../harness/rounds.js';
import type { Scenario } from '../harness/scenario.js';
import { runId } from '../harness/time.js';
import { cleanupAll } from './cleanup.js';

export function rabbitPlan(quick: boolean): BrokerPlan {
  return {
    consumers: 1,
    warmup: quick ? 500 : 2_000,
    count: quick ? 5_000 : 20_000,
    window: 100,
    latencyCount: quick ? 1_000 : 3_000,
    rate: 1_000,
    timeoutMs: 60_000,
  };
}

export const rabbitmq: Scenario = {
  name: 'rabbitmq',
  title: 'rabbitmq: Missive vs raw amqplib',
  budgetMs: 150_000,
  facts: { rabbitmq: true, packages: ['amqplib', 'zod'] },
  async run(ctx) {
    const id = runId();
    const common = { prefetch: 32, concurrency: 16 };
    const subjects: Subject[] = [];
    for (const queueType of ['quorum', 'classic'] as const) {
      if (ctx.quick && queueType === 'classic') continue;
      subjects.push(
        {
          label: `Missive (${queueType} queue)`,
          module: 'subjects/missive-bus.js',
          args: { ...common, name: `bench-mq-${queueType}-${id}`, url: `${AMQP_URL}?queueType=${queueType}` },
          note: queueType === 'quorum' ? 'the transport default; endpoint concurrency 16' : undefined,
        },
        {
          label: `raw amqplib (${queueType} queue)`,
          module: 'subjects/raw-amqp.js',
          args: { ...common, name: `bench-raw-${queueType}-${id}`, queueType },
        },
        {
          label: `raw amqplib, acks per turn (${queueType} queue)`,
          module: 'subjects/raw-amqp.js',
          args: { ...common, name: `bench-rawb-${queueType}-${id}`, queueType, ackPerTurn: true },
          note: 'the acks of one event-loop turn as one multiple ack, as Missive sends them',
        },
      );
    }
    const plan = rabbitPlan(ctx.quick);
    const rounds = ctx.rounds ?? (ctx.quick ? 1 : 3);
    try {
      const { rows, rounds: ran } = await alternate(subjects, { rounds, deadline: ctx.deadline - 20_000, log: ctx.log }, (s, row) =>
        runBroker(s, row, plan),
      );
      const tables: string[] = [];
      for (const queueType of ['quorum', 'classic']) {
        const mine = rows.filter((r) => r.label.includes(`(${queueType} queue)`));
        if (mine.length > 0)
          tables.push(
            `#### ${queueType} queues`,
            '',
            comparisonTable(mine, `Missive (${queueType} queue)`, { rate: `${plan.rate / 1000}k/s` }),
            '',
          );
      }
      return [
        `${ran} rounds, alternating; per round and system a fresh publisher process and consumer process: ${plan.warmup.toLocaleString('en-US')} warm-up messages, ${plan.count.toLocaleString('en-US')} published with at most ${plan.window} unconfirmed (throughput: first publish to last handled), then ${plan.latencyCount.toLocaleString('en-US')} at ${plan.rate.toLocaleString('en-US')} msg/s (latency: publish call in one process to handler entry in the other). Prefetch ${common.prefetch} on both sides; persistent messages, publisher confirms, manual ack after the handler.`,
        '',
        ...tables,
      ].join('\n');
    } finally {
      await cleanupAll(subjects, ctx.log);
    }
  },
};
