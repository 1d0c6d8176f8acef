/**
 * telemetry: what observability costs. Missive on the memory transport and on RabbitMQ, in one run,
 * three ways: no OpenTelemetry provider registered (the spans and metrics are API no-ops), the
 * OpenTelemetry SDK registered (batching span processor and a meter provider, exporting to a sink
 * that discards), and, when `MISSIVE_BASELINE_DIR` names a build of the commit before
 * observability (see docs/BENCHMARKS.md), that build: "today".
 *
 * @module
 */
import { join } from 'node:path';
import { AMQP_URL } from '../harness/machine.js';
import { comparisonTable } from '../harness/report.js';
import { alternate, runBroker, runPair, type Subject } from '../harness/rounds.js';
import type { Scenario } from '../harness/scenario.js';
import { runId } from '../harness/time.js';
import { cleanupAll } from './cleanup.js';
import { rabbitPlan } from './rabbitmq.js';

const MODULE = 'subjects/missive-telemetry.js';

export const telemetry: Scenario = {
  name: 'telemetry',
  title: 'telemetry: the cost of tracing and metrics',
  budgetMs: 400_000,
  facts: { rabbitmq: true, packages: ['@opentelemetry/api', '@opentelemetry/sdk-metrics', 'zod'] },
  async run(ctx) {
    const id = runId();
    const baselineDir = process.env.MISSIVE_BASELINE_DIR;
    const baseline = baselineDir === undefined ? undefined : join(baselineDir, 'packages', 'core', 'dist', 'index.js');
    const variants = [
      ...(baseline === undefined ? [] : [{ key: 'base', label: 'before observability', extra: { core: baseline } }]),
      { key: 'none', label: 'no provider', extra: {} },
      { key: 'sdk', label: 'SDK, discarding exporter', extra: { sdk: true } },
    ];
    const memory: Subject[] = variants.map((v) => ({
      label: `memory, ${v.label}`,
      module: MODULE,
      args: { name: `bench-tm-${v.key}-${id}`, prefetch: 16, concurrency: 8, ...v.extra },
    }));
    const rabbit: Subject[] = variants.map((v) => ({
      label: `rabbitmq, ${v.label}`,
      module: MODULE,
      args: { name: `bench-tr-${v.key}-${id}`, prefetch: 32, concurrency: 16, url: AMQP_URL, ...v.extra },
    }));
    const memoryPlan = {
      warmup: ctx.quick ? 5_000 : 20_000,
      count: ctx.quick ? 30_000 : 100_000,
      window: 100,
      latencyCount: ctx.quick ? 2_000 : 10_000,
      rate: 10_000,
      timeoutMs: 60_000,
    };
    const brokerPlan = rabbitPlan(ctx.quick);
    const rounds = ctx.rounds ?? (ctx.quick ? 2 : 5);
    ctx.log('  memory');
    const mem = await alternate(memory, { rounds, deadline: ctx.deadline - 200_000, log: ctx.log }, (s, row) =>
      runPair(s, row, memoryPlan),
    );
    ctx.log('  rabbitmq');
    try {
      const mq = await alternate(
        rabbit,
        { rounds: ctx.rounds ?? (ctx.quick ? 1 : 3), deadline: ctx.deadline - 20_000, log: ctx.log },
        (s, row) => runBroker(s, row, brokerPlan),
      );
      const reference = (rows: readonly { label: string }[]) => rows.find((r) => r.label.endsWith(variants[0]!.label))!.label;
      return [
        `Missive alone, three ways (${variants.map((v) => v.label).join(' / ')}), alternating in rounds, a fresh process per round and variant. The SDK variant registers a NodeTracerProvider with a BatchSpanProcessor (default batching) and a MeterProvider with the Prometheus reader, through \`startTelemetry\` of @missive/otel; its span exporter discards (the cost of a collector is not Missive's).`,
        '',
        `#### memory transport (${mem.rounds} rounds: ${memoryPlan.count.toLocaleString('en-US')} messages with at most ${memoryPlan.window} unconfirmed; latency at ${memoryPlan.rate.toLocaleString('en-US')} msg/s)`,
        '',
        comparisonTable(mem.rows, reference(mem.rows), { rate: `${memoryPlan.rate / 1000}k/s` }),
        '',
        `#### RabbitMQ, quorum queue (${mq.rounds} rounds: ${brokerPlan.count.toLocaleString('en-US')} messages, publisher and consumer processes; latency at ${brokerPlan.rate.toLocaleString('en-US')} msg/s)`,
        '',
        comparisonTable(mq.rows, reference(mq.rows), { rate: `${brokerPlan.rate / 1000}k/s` }),
      ].join('\n');
    } finally {
      await cleanupAll(rabbit, ctx.log);
    }
  },
};
