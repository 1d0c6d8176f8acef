/**
 * CPU time per message on Missive's memory path (publish → endpoint handler, zod schema checked
 * on publish and on receipt, a JSON-encoded envelope), read with `process.cpuUsage()` over a batch
 * of messages in one process. CPU time barely moves with the machine's load, unlike throughput, so
 * this compares builds and telemetry modes on a busy machine.
 *
 * It prints, per build, the median CPU µs per message and the median messages per second (wall
 * clock, which the machine's load moves far more than CPU time). Each argument `label=path` names a build of `@missive/core` (the path of its `dist/index.js`); the
 * builds run in alternating rounds in this one process. `--mode` picks the telemetry mode:
 * `none` (no provider registered, the default), `sdk` (a tracer provider with a batching span
 * processor exporting to a sink that discards, and a meter provider with a periodic reader), or
 * `off` (no provider, and the bus's tracing and metrics methods replaced by empty ones: the
 * nearest to no instrumentation code at all that a build with it can run). A build whose label
 * starts with `off` is run so in any mode: give a second copy of the build to compare in one process.
 *
 * ```sh
 * node bench/dist/profile/memory-cpu.js --mode none --rounds 5 --count 50000 \
 *   before=/tmp/base/packages/core/dist/index.js after=packages/core/dist/index.js
 * ```
 * @module
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as MissiveCore from '@missive/core';
import { makeOrder, ORDER_TOPIC, orderSchema } from '../harness/payload.js';

type CoreModule = typeof MissiveCore;

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1]! : fallback;
}

const mode = option('mode', 'none');
const rounds = Number(option('rounds', '5'));
const count = Number(option('count', '50000'));
const builds = process.argv.slice(2).filter((arg) => arg.includes('=') && !arg.startsWith('--'));
if (builds.length === 0) builds.push(`current=${new URL('../../../packages/core/dist/index.js', import.meta.url).pathname}`);

if (mode === 'sdk') await registerSdk();

interface Subject {
  readonly label: string;
  run(n: number): Promise<void>;
  close(): Promise<void>;
}

async function subject(label: string, path: string): Promise<Subject> {
  const core = (await import(pathToFileURL(resolve(path)).href)) as CoreModule;
  if (mode === 'off' || label.startsWith('off')) await stripInstrumentation(path);
  const Placed = core.defineEvent(ORDER_TOPIC, orderSchema);
  const bus = core.createBus({ service: 'bench', transport: 'memory://', logger: core.consoleLogger('error') });
  let handled = 0;
  let target = 0;
  let wake: (() => void) | undefined;
  bus.endpoint(`cpu-${label}`, (e) =>
    e.on(Placed, () => {
      handled++;
      if (handled >= target) wake?.();
    }),
  );
  await bus.start();
  return {
    label,
    async run(n) {
      target = handled + n;
      const done = new Promise<void>((resolveDone) => (wake = resolveDone));
      let inFlight: Promise<unknown>[] = [];
      for (let i = 0; i < n; i++) {
        inFlight.push(bus.publish(Placed, makeOrder(i, 't')));
        if (inFlight.length === 100) {
          await Promise.all(inFlight);
          inFlight = [];
        }
      }
      await Promise.all(inFlight);
      await done;
    },
    close: () => bus.stop(),
  };
}

/** Replaces the per-message methods of the build's MessageTracing and BusMetrics by empty ones. */
async function stripInstrumentation(indexPath: string): Promise<void> {
  const dir = new URL('./observe/', pathToFileURL(resolve(indexPath)));
  type Methods = Record<string, unknown>;
  const tracing = (await import(new URL('tracing.js', dir).href)) as { MessageTracing: { prototype: Methods } };
  const metrics = (await import(new URL('metrics.js', dir).href)) as { BusMetrics: { prototype: Methods } };
  const { trace, INVALID_SPAN_CONTEXT } = await import('@opentelemetry/api');
  const span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
  const bare = { span, operation: 'publish', destination: '', startedAt: 0, traceparent: undefined, tracestate: undefined };
  Object.assign(tracing.MessageTracing.prototype, {
    tracingOn: () => false,
    startProducer: (_operation: string, _destination: string, parent: { traceparent?: string; tracestate?: string } | undefined) =>
      parent === undefined ? bare : { ...bare, traceparent: parent.traceparent, tracestate: parent.tracestate },
    message: () => undefined,
    end: () => undefined,
    process: (_e: unknown, _q: unknown, _a: unknown, _r: unknown, run: () => Promise<unknown>) => run(),
  });
  for (const name of ['sent', 'consumed', 'processed']) metrics.BusMetrics.prototype[name] = () => undefined;
}

async function registerSdk(): Promise<void> {
  const { trace, metrics } = await import('@opentelemetry/api');
  const { BasicTracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
  const { MeterProvider, PeriodicExportingMetricReader, AggregationTemporality } = await import('@opentelemetry/sdk-metrics');
  const discard = {
    export: (_items: unknown, done: (result: { code: number }) => void) => done({ code: 0 }),
    shutdown: () => Promise.resolve(),
    forceFlush: () => Promise.resolve(),
  };
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(discard)] }));
  const reader = new PeriodicExportingMetricReader({
    exporter: { ...discard, selectAggregationTemporality: () => AggregationTemporality.CUMULATIVE },
    exportIntervalMillis: 1000,
  });
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
}

const subjects: Subject[] = [];
for (const build of builds) {
  const at = build.indexOf('=');
  subjects.push(await subject(build.slice(0, at), build.slice(at + 1)));
}
for (const s of subjects) await s.run(20_000); // warm-up
const results = new Map<string, number[]>(subjects.map((s) => [s.label, []]));
const rates = new Map<string, number[]>(subjects.map((s) => [s.label, []]));
for (let round = 0; round < rounds; round++) {
  for (const s of round % 2 === 0 ? subjects : [...subjects].reverse()) {
    const before = process.cpuUsage();
    const startedAt = performance.now();
    await s.run(count);
    const used = process.cpuUsage(before);
    rates.get(s.label)!.push(count / ((performance.now() - startedAt) / 1000));
    results.get(s.label)!.push((used.user + used.system) / count);
  }
}
for (const s of subjects) await s.close();
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
console.log(
  `mode ${mode}, ${rounds} rounds of ${count} messages, load average ${(await import('node:os'))
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
for (const [label, values] of results) {
  const rate = rates.get(label)!;
  console.log(
    `${label.padEnd(12)} CPU µs/message: median ${median(values).toFixed(2)}  (${values.map((v) => v.toFixed(2)).join(', ')});` +
      `  msg/s (wall): median ${Math.round(median(rate))}  (${rate.map((v) => Math.round(v)).join(', ')})`,
  );
}
process.exit(0);
