/**
 * What the OpenTelemetry SDK costs Missive per message, on the memory path and on RabbitMQ, in one
 * run: (a) no provider registered (Missive's instrumentation calls are API no-ops) against (b) the
 * SDK as an application registers it through `startTelemetry` of @missive/otel (a NodeTracerProvider
 * with its async-hooks context manager and a BatchSpanProcessor, a MeterProvider with a periodic
 * reader, every `--metric-interval` ms: default 10 000, `startTelemetry`'s), both exporting to sinks
 * that discard (a collector's cost is not Missive's). Each collection also reads the transport's
 * queue listing for the depth gauges: on RabbitMQ that costs milliseconds (see docs/BENCHMARKS.md).
 *
 * Rounds alternate the modes (none, sdk / sdk, none ...); every measured run is a fresh process
 * whose bus publishes `count` messages (at most 100 unconfirmed) to its own endpoint and handles
 * them: one producer span, one `process` span and four measurements per message. The figure is CPU
 * time per message of that process (`process.cpuUsage()`, which the machine's load barely moves),
 * and its throughput. On RabbitMQ the process's CPU includes amqplib's; the broker's is not counted.
 * After an SDK run the same process times the SDK alone doing the least those conventions ask
 * (two spans with their attributes, one context switch, two histogram records): the floor no
 * instrumentation through the SDK can go under.
 *
 * ```sh
 * node bench/dist/profile/telemetry-cost.js --rounds 5 --memory 20000 --rabbitmq 5000
 * ```
 *
 * `--context` adds a mode with no provider and only an async-hooks context manager turned on, to
 * show what that costs by itself. `--baseline path/to/core/dist/index.js` adds a mode: the SDK
 * with that build of @missive/core (an earlier commit's, built apart), so before and after are
 * measured in the same run. For single child runs (`--child memory --mode sdk --count N`, as under
 * callgrind): `--no-minimum` leaves the SDK's minimum out, `--hook-on` makes one `context.with` first
 * (the context manager's promise hook is then on for every promise of the process, as after the first
 * request of an instrumented HTTP server), and `--ratio R` sets the sampled mode's ratio. `--warmup N`
 * (every run) sets the messages handled before the measured ones (default: 10 000 on the memory path,
 * 2 000 on RabbitMQ, at most the measured count).
 * @module
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ROOT_CONTEXT as ROOT, type Context, type ContextManager } from '@opentelemetry/api';
import type * as CoreModule from '@missive/core';
import type * as OtelModule from '@missive/otel';
import { AMQP_URL } from '../harness/machine.js';
import { makeOrder, orderSchema } from '../harness/payload.js';
import { spread } from '../harness/stats.js';
import { cleanup } from '../subjects/missive-bus.js';

/**
 * `base`: the SDK, with the build of @missive/core that `--baseline` names (before/after in one run).
 * `context` (with `--context`): no provider, only the SDK's async-hooks context manager, enabled as
 * an instrumented HTTP server would (one `context.with`): the tax every async operation of the
 * process pays once it is on, whoever turned it on.
 * `traces` and `metrics` (with `--split`): the SDK's tracer provider alone, its meter provider alone.
 * `sampled` (with `--sampled`): the SDK with `ParentBased(TraceIdRatioBased(0.1))`, as production
 * tracing usually samples; `base-sampled` (with `--sampled` and `--baseline`): the same with the
 * `--baseline` build.
 */
type Mode = 'none' | 'sdk' | 'base' | 'context' | 'traces' | 'metrics' | 'sampled' | 'base-sampled';
type Path = 'memory' | 'rabbitmq';

/** What one child run reports. */
interface RunResult {
  readonly cpuUsPerMessage: number;
  readonly messagesPerSecond: number;
  /** Spans the discarding exporter received (0 without the SDK): proves the SDK recorded them. */
  readonly spansExported: number;
  /** Metric exports the discarding exporter received. */
  readonly metricExports: number;
  /** The user and system (kernel: socket reads and writes, epoll) parts of {@link cpuUsPerMessage}. */
  readonly userUsPerMessage: number;
  readonly systemUsPerMessage: number;
  /** With the SDK: CPU µs of {@link sdkMinimum} per message, measured in the same process after the run. */
  readonly sdkMinimumUs?: number;
}

/**
 * The least the SDK itself costs per message under the conventions Missive follows, with no bus:
 * a producer span with its 7 attributes, a consumer span with its 9, one `context.with` around an
 * async function, and two histogram records. Missive's extra cost above this is its own.
 */
async function sdkMinimum(count: number): Promise<number> {
  const { context, metrics, trace, ROOT_CONTEXT, SpanKind } = await import('@opentelemetry/api');
  const tracer = trace.getTracer('bench.minimum');
  const meter = metrics.getMeter('bench.minimum');
  const operation = meter.createHistogram('bench.operation.duration', { unit: 's' });
  const processing = meter.createHistogram('bench.process.duration', { unit: 's' });
  const producerFixed = Object.freeze({
    'messaging.system': 'memory',
    'messaging.destination.name': 'bench.topic',
    'messaging.operation.type': 'send',
    'messaging.operation.name': 'publish',
  });
  const consumerFixed = Object.freeze({
    'messaging.system': 'memory',
    'messaging.destination.name': 'bench',
    'messaging.consumer.group.name': 'bench',
    'messaging.operation.type': 'process',
    'messaging.operation.name': 'process',
  });
  const sentAttributes = Object.freeze({
    'messaging.system': 'memory',
    'messaging.destination.name': 'bench.topic',
    'messaging.operation.name': 'publish',
  });
  const processAttributes = Object.freeze({
    'messaging.system': 'memory',
    'messaging.destination.name': 'bench',
    'messaging.consumer.group.name': 'bench',
  });
  const handler = async (): Promise<void> => undefined;
  const once = async (i: number): Promise<void> => {
    const id = `m-${i}`;
    const producer = tracer.startSpan('publish bench.topic', { kind: SpanKind.PRODUCER });
    producer.setAttributes(producerFixed);
    producer.setAttribute('messaging.message.id', id);
    producer.setAttribute('messaging.message.conversation_id', id);
    producer.setAttribute('missive.message.type', 'bench.topic');
    producer.end();
    operation.record(0.0001, sentAttributes);
    const consumer = tracer.startSpan('process bench', { kind: SpanKind.CONSUMER }, trace.setSpan(ROOT_CONTEXT, producer));
    consumer.setAttributes(consumerFixed);
    consumer.setAttribute('messaging.message.id', id);
    consumer.setAttribute('messaging.message.conversation_id', id);
    consumer.setAttribute('missive.message.type', 'bench.topic');
    consumer.setAttribute('missive.attempt', 1);
    await context.with(trace.setSpan(ROOT_CONTEXT, consumer), handler);
    consumer.end();
    processing.record(0.0001, processAttributes);
  };
  for (let i = 0; i < 5000; i++) await once(i);
  const before = process.cpuUsage();
  for (let i = 0; i < count; i++) await once(i);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / count;
}

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1]! : fallback;
}

/** A span and metric exporter that counts what it gets and drops it. */
class Discard {
  spans = 0;
  exports = 0;
  export(items: unknown, done: (result: { code: number }) => void): void {
    if (Array.isArray(items)) this.spans += items.length;
    else this.exports++;
    done({ code: 0 });
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** A context manager on `AsyncLocalStorage`, as the SDK's for Node (`@opentelemetry/context-async-hooks`) is. */
function asyncLocalStorageContextManager(): ContextManager {
  const storage = new AsyncLocalStorage<Context>();
  const manager: ContextManager = {
    active: () => storage.getStore() ?? ROOT,
    with: (ctx, fn, thisArg, ...args) => storage.run(ctx, () => fn.call(thisArg, ...args)),
    bind: (_ctx, target) => target,
    enable: () => manager,
    disable: () => {
      storage.disable();
      return manager;
    },
  };
  return manager;
}

const isBase = (mode: Mode): boolean => mode === 'base' || mode === 'base-sampled';

/**
 * @missive/otel for a mode: for `base`, the build beside the `--baseline` core
 * (`…/packages/core/dist/index.js` → `…/packages/otel/dist/index.js`) when there is one, so that
 * its `startTelemetry` claims the durations of that core, not of this checkout's.
 */
function otelModule(mode: Mode): string {
  if (!isBase(mode)) return '@missive/otel';
  const beside = resolve(dirname(resolve(option('baseline', ''))), '../../otel/dist/index.js');
  return existsSync(beside) ? pathToFileURL(beside).href : '@missive/otel';
}

/**
 * Under `valgrind --tool=callgrind` (`--callgrind`): zeroes the counts before the measured messages
 * and dumps them after, so a dump holds exactly their instructions (`callgrind_control`). Run node
 * with `--single-threaded --expose-gc` there: compilation and collection then happen on the main
 * thread at the same points in every run, not whenever valgrind schedules V8's helper threads.
 */
function callgrind(...args: string[]): void {
  if (!process.argv.includes('--callgrind')) return;
  // The same heap at the start of every run (node --expose-gc): a collection the warm-up left owing does not fall into the count.
  if (args[0] === '-z') (globalThis as { gc?: () => void }).gc?.();
  execFileSync('callgrind_control', [...args, String(process.pid)], { stdio: 'ignore' });
}

/** One measured run in this process. */
async function child(path: Path, mode: Mode, count: number, name: string): Promise<RunResult> {
  const spans = new Discard();
  const metrics = new Discard();
  let shutdown = (): Promise<void> => Promise.resolve();
  if (mode === 'context') {
    const { context, ROOT_CONTEXT } = await import('@opentelemetry/api');
    context.setGlobalContextManager(asyncLocalStorageContextManager());
    context.with(ROOT_CONTEXT, () => undefined);
  } else if (mode !== 'none') {
    const { startTelemetry } = (await import(otelModule(mode))) as typeof OtelModule;
    const { ParentBasedSampler, TraceIdRatioBasedSampler } = await import('@opentelemetry/sdk-trace-base');
    const telemetry = startTelemetry({
      service: 'bench',
      ...(mode === 'metrics' ? {} : { spanExporter: spans }),
      metricExporter: metrics,
      metricIntervalMs: Number(option('metric-interval', '10000')),
      prometheus: false,
      ...(mode === 'sampled' || mode === 'base-sampled'
        ? { sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(Number(option('ratio', '0.1'))) }) }
        : {}),
    });
    // Traces alone: the meter provider back to the API's no-op one before the bus makes its instruments.
    if (mode === 'traces') (await import('@opentelemetry/api')).metrics.disable();
    // `--hook-on`: one `context.with` first, as an instrumented HTTP server's request would: the
    // context manager's promise hook is then on for the whole process, whatever the sampler decides.
    if (process.argv.includes('--hook-on')) {
      const { context, ROOT_CONTEXT } = await import('@opentelemetry/api');
      context.with(ROOT_CONTEXT, () => undefined);
    }
    shutdown = () => telemetry.shutdown();
  }
  const core = (
    isBase(mode) ? await import(pathToFileURL(resolve(option('baseline', ''))).href) : await import('@missive/core')
  ) as typeof CoreModule;
  const Placed = core.defineEvent(`bench.${name}`, orderSchema);
  const url = path === 'memory' ? 'memory://' : AMQP_URL;
  const bus = core.createBus({ service: 'bench', transport: url, logger: core.consoleLogger('error'), stopTimeoutMs: 2000 });
  let handled = 0;
  let target = 0;
  let wake: (() => void) | undefined;
  bus.endpoint(
    name,
    (e) =>
      e.on(Placed, () => {
        handled++;
        if (handled >= target) wake?.();
      }),
    path === 'memory' ? {} : { concurrency: 16, prefetch: 32 },
  );
  await bus.start();
  const run = async (n: number): Promise<void> => {
    target = handled + n;
    const done = new Promise<void>((resolve) => (wake = resolve));
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
  };
  try {
    // `--warmup N`: the default leaves V8 still compiling the SDK's code during the measured messages
    // (docs/BENCHMARKS.md, issue 15 fifth pass); a longer one measures the steady state.
    await run(Number(option('warmup', String(Math.min(count, path === 'memory' ? 10_000 : 2_000))))); // warm-up
    callgrind('-z');
    const before = process.cpuUsage();
    const started = performance.now();
    await run(count);
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(before);
    callgrind('-d', `measured ${path} ${mode} ${count}`);
    const minimum = mode === 'sdk' && !process.argv.includes('--no-minimum') ? await sdkMinimum(count) : undefined;
    await shutdown();
    return {
      cpuUsPerMessage: (used.user + used.system) / count,
      userUsPerMessage: used.user / count,
      systemUsPerMessage: used.system / count,
      messagesPerSecond: count / seconds,
      spansExported: spans.spans,
      metricExports: metrics.exports,
      ...(minimum === undefined ? {} : { sdkMinimumUs: minimum }),
    };
  } finally {
    await bus.stop();
    if (path === 'rabbitmq') await cleanup({ url, name, prefetch: 32, concurrency: 16 });
  }
}

function spawnRun(path: Path, mode: Mode, count: number, name: string): Promise<RunResult> {
  const args = [fileURLToPath(import.meta.url), '--child', path, '--mode', mode, '--count', String(count), '--name', name];
  if (isBase(mode)) args.push('--baseline', option('baseline', ''));
  args.push('--metric-interval', option('metric-interval', '10000'), '--ratio', option('ratio', '0.1'));
  if (process.argv.includes('--warmup')) args.push('--warmup', option('warmup', ''));
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { timeout: 300_000, maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`${path} ${mode}: ${error.message}\n${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').pop()!) as RunResult);
    });
  });
}

const median = (values: readonly number[]): number => spread(values).median;
const range = (values: readonly number[], digits: number): string => {
  const { min, max } = spread(values);
  return `${min.toFixed(digits)}–${max.toFixed(digits)}`;
};
const minimumOf = (runs: readonly RunResult[]): string => {
  const values = runs.map((r) => r.sdkMinimumUs).filter((v): v is number => v !== undefined);
  return values.length === 0 ? '' : `${median(values).toFixed(1)} (${range(values, 1)})`;
};
const load = (): string =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

async function parent(): Promise<void> {
  const rounds = Number(option('rounds', '5'));
  const counts: Record<Path, number> = { memory: Number(option('memory', '20000')), rabbitmq: Number(option('rabbitmq', '5000')) };
  const paths = (['memory', 'rabbitmq'] as const).filter((p) => counts[p] > 0);
  const id = `${process.pid}-${Date.now().toString(36)}`;
  const results = new Map<string, RunResult[]>();
  const startedAt = new Date().toISOString();
  const loadBefore = load();
  for (let round = 0; round < rounds; round++) {
    const all: Mode[] = ['none', 'sdk'];
    if (process.argv.includes('--baseline')) all.push('base');
    if (process.argv.includes('--context')) all.push('context');
    if (process.argv.includes('--split')) all.push('traces', 'metrics');
    if (process.argv.includes('--sampled')) all.push('sampled');
    if (process.argv.includes('--sampled') && process.argv.includes('--baseline')) all.push('base-sampled');
    const modes = all.map((_, i) => all[(i + round) % all.length]!);
    for (const path of paths) {
      for (const mode of modes) {
        const result = await spawnRun(path, mode, counts[path], `bench-tc-${mode}-${id}-${round}`);
        const key = `${path} ${mode}`;
        results.set(key, [...(results.get(key) ?? []), result]);
        console.error(
          `round ${round + 1} ${key.padEnd(13)} ${result.cpuUsPerMessage.toFixed(1)} µs/msg${result.sdkMinimumUs === undefined ? '' : ` (SDK minimum ${result.sdkMinimumUs.toFixed(1)})`}  ${Math.round(result.messagesPerSecond)} msg/s  spans ${result.spansExported}  metric exports ${result.metricExports}  load ${load()}`,
        );
      }
    }
  }
  console.log(`telemetry-cost, ${startedAt}, ${rounds} rounds alternating, load average ${loadBefore} at the start, ${load()} at the end`);
  console.log('');
  console.log(
    "| path | messages per run | CPU µs/msg, no provider | CPU µs/msg, SDK | SDK ÷ none, CPU (median; per round) | throughput none ÷ SDK (median; per round) | SDK extra µs/msg | the SDK's own minimum, µs/msg |",
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const path of paths) {
    const none = results.get(`${path} none`)!;
    const sdk = results.get(`${path} sdk`)!;
    const cpuRatios = sdk.map((s, i) => s.cpuUsPerMessage / none[i]!.cpuUsPerMessage);
    const rateRatios = sdk.map((s, i) => none[i]!.messagesPerSecond / s.messagesPerSecond);
    const noneCpu = none.map((r) => r.cpuUsPerMessage);
    const sdkCpu = sdk.map((r) => r.cpuUsPerMessage);
    console.log(
      `| ${path} | ${counts[path].toLocaleString('en-US')} | ${median(noneCpu).toFixed(1)} (${range(noneCpu, 1)}) | ${median(sdkCpu).toFixed(1)} (${range(sdkCpu, 1)}) | ${median(cpuRatios).toFixed(2)}× (${range(cpuRatios, 2)}) | ${median(rateRatios).toFixed(2)}× (${range(rateRatios, 2)}) | +${(median(sdkCpu) - median(noneCpu)).toFixed(1)} | ${minimumOf(sdk)} |`,
    );
    const base = results.get(`${path} base`);
    if (base !== undefined) {
      const baseCpu = base.map((r) => r.cpuUsPerMessage);
      const gain = base.map((b, i) => b.cpuUsPerMessage / sdk[i]!.cpuUsPerMessage);
      const baseRatios = base.map((b, i) => b.cpuUsPerMessage / none[i]!.cpuUsPerMessage);
      console.log(
        `| ${path}, SDK with the --baseline build | | | ${median(baseCpu).toFixed(1)} (${range(baseCpu, 1)}) | ${median(baseRatios).toFixed(2)}× (${range(baseRatios, 2)}) | baseline ÷ this build, CPU: ${median(gain).toFixed(2)}× (${range(gain, 2)}) | +${(median(baseCpu) - median(noneCpu)).toFixed(1)} | |`,
      );
    }
    const labels: [Mode, string][] = [
      ['sampled', 'SDK, ParentBased(TraceIdRatioBased(0.1)) sampler'],
      ['base-sampled', 'SDK with the --baseline build, ParentBased(TraceIdRatioBased(0.1)) sampler'],
      ['traces', 'SDK traces only (no meter provider)'],
      ['metrics', 'SDK metrics only (no tracer provider)'],
      ['context', 'no provider, the async-hooks context manager on'],
    ];
    for (const [mode, label] of labels) {
      const runs = results.get(`${path} ${mode}`);
      if (runs === undefined) continue;
      const cpu = runs.map((r) => r.cpuUsPerMessage);
      const ratios = runs.map((c, i) => c.cpuUsPerMessage / none[i]!.cpuUsPerMessage);
      const rates = runs.map((c, i) => none[i]!.messagesPerSecond / c.messagesPerSecond);
      console.log(
        `| ${path}, ${label} | | | ${median(cpu).toFixed(1)} (${range(cpu, 1)}) | ${median(ratios).toFixed(2)}× (${range(ratios, 2)}) | ${median(rates).toFixed(2)}× (${range(rates, 2)}) | +${(median(cpu) - median(noneCpu)).toFixed(1)} | |`,
      );
    }
    const sampled = results.get(`${path} sampled`);
    const baseSampled = results.get(`${path} base-sampled`);
    if (sampled !== undefined && baseSampled !== undefined) {
      const gain = baseSampled.map((b, i) => b.cpuUsPerMessage / sampled[i]!.cpuUsPerMessage);
      console.log(
        `| ${path}, sampled: baseline ÷ this build, CPU, per round | | | | ${median(gain).toFixed(2)}× (${range(gain, 2)}) | | | |`,
      );
    }
  }
}

if (process.argv.includes('--child')) {
  const result = await child(
    option('child', 'memory') as Path,
    option('mode', 'none') as Mode,
    Number(option('count', '20000')),
    option('name', 'bench-tc'),
  );
  console.log(JSON.stringify(result));
  process.exit(0);
} else {
  await parent();
}
