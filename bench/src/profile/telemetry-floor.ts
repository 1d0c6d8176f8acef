/**
 * The floor under Missive's tracing with the OpenTelemetry Node SDK, part by part, each alone in a
 * fresh process (CPU ns per operation after a warm-up; modes alternate round by round):
 *
 * - `spans`: the SDK's own span work for one message, as the conventions ask and nothing else: a
 *   producer span with its 7 attributes, ended; a `process` span, its child, with its 9, ended
 *   (the `startTelemetry` tracer provider, a batching processor, an exporter that discards).
 * - `with`: one `context.with(span context, f)` of the SDK's context manager around a function
 *   that returns at once (an `AsyncLocalStorage` run).
 * - `promise` and `promise-hooked`: one promise made and resolved with a reaction
 *   (`Promise.resolve(i).then(f)`), the context manager's promise hook off, and on (one
 *   `context.with` first, as Missive's first traced message or an instrumented server's first
 *   request does): the hook's price per promise, which every promise of the process then pays.
 * - `parse`: Missive reading a message's `traceparent` into the `process` span's parent context
 *   (`spanContextOf` + `trace.setSpanContext`), `traceparent`: writing one (`traceparentOf`).
 *
 * ```sh
 * node bench/dist/profile/telemetry-floor.js --rounds 5 --count 200000
 * # one part under callgrind (instructions per operation: the dump's summary ÷ count):
 * valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p node bench/dist/profile/telemetry-floor.js --child spans --count 20000 --callgrind
 * ```
 * @module
 */
import { execFile, execFileSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { context, ROOT_CONTEXT, SpanKind, trace, type SpanContext } from '@opentelemetry/api';
import { startTelemetry } from '@missive/otel';

/** Core's internal trace-context module (not exported by the package), from its build. */
interface TraceContextModule {
  readonly spanContextOf: (traceparent: string | undefined, tracestate?: string) => SpanContext | undefined;
  readonly traceparentOf: (context: SpanContext) => string | undefined;
}
const { spanContextOf, traceparentOf } = (await import(
  new URL('../../../packages/core/dist/observe/trace-context.js', import.meta.url).href
)) as TraceContextModule;

const PARTS = ['spans', 'with', 'promise', 'promise-hooked', 'parse', 'traceparent'] as const;
type Part = (typeof PARTS)[number];

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1]! : fallback;
}

function callgrind(...args: string[]): void {
  if (process.argv.includes('--callgrind')) execFileSync('callgrind_control', [...args, String(process.pid)], { stdio: 'ignore' });
}

const discard = {
  export: (_items: unknown, done: (result: { code: number }) => void) => done({ code: 0 }),
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};

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
const PRODUCER = Object.freeze({ kind: SpanKind.PRODUCER });
const CONSUMER = Object.freeze({ kind: SpanKind.CONSUMER });

/** One operation of `part`, `i` its number; async parts return a promise to await in batches. */
function operation(part: Part): (i: number) => unknown {
  const tracer = trace.getTracer('bench.floor');
  const span = tracer.startSpan('x');
  const spanContext: SpanContext = span.spanContext();
  const active = trace.setSpan(ROOT_CONTEXT, span);
  const traceId = spanContext.traceId;
  const spanId = spanContext.spanId;
  const nothing = (): undefined => undefined;
  switch (part) {
    case 'spans':
      return (i) => {
        const id = `m-${i}`;
        const producer = tracer.startSpan('publish bench.topic', PRODUCER, ROOT_CONTEXT);
        producer.setAttributes(producerFixed);
        producer.setAttribute('messaging.message.id', id);
        producer.setAttribute('messaging.message.conversation_id', id);
        producer.setAttribute('missive.message.type', 'bench.topic');
        producer.end();
        const consumer = tracer.startSpan('process bench', CONSUMER, trace.setSpan(ROOT_CONTEXT, producer));
        consumer.setAttributes(consumerFixed);
        consumer.setAttribute('messaging.message.id', id);
        consumer.setAttribute('messaging.message.conversation_id', id);
        consumer.setAttribute('missive.message.type', 'bench.topic');
        consumer.setAttribute('missive.attempt', 1);
        consumer.end();
        return undefined;
      };
    case 'with':
      return () => context.with(active, nothing);
    case 'promise':
    case 'promise-hooked':
      return (i) => Promise.resolve(i).then(nothing);
    case 'parse':
      // A fresh string each time, as a decoded message's is.
      return (i) => {
        const parent = spanContextOf(`00-${traceId}-${(i & 1) === 0 ? spanId : spanId.replace(/.$/, 'f')}-01`);
        return parent === undefined ? undefined : trace.setSpanContext(ROOT_CONTEXT, parent);
      };
    case 'traceparent':
      return () => traceparentOf(spanContext);
  }
}

async function child(part: Part, count: number): Promise<number> {
  const telemetry = startTelemetry({ service: 'bench', spanExporter: discard, prometheus: false });
  if (part === 'promise-hooked') context.with(ROOT_CONTEXT, () => undefined);
  const op = operation(part);
  const loop = async (n: number): Promise<void> => {
    let batch: unknown[] = [];
    for (let i = 0; i < n; i++) {
      const result = op(i);
      if (result instanceof Promise) {
        batch.push(result);
        if (batch.length === 100) {
          await Promise.all(batch);
          batch = [];
        }
      }
    }
    await Promise.all(batch);
  };
  await loop(Math.min(count, 50_000));
  callgrind('-z');
  const before = process.cpuUsage();
  await loop(count);
  const used = process.cpuUsage(before);
  callgrind('-d', `measured ${part} ${count}`);
  await telemetry.shutdown();
  return ((used.user + used.system) * 1000) / count;
}

function spawn(part: Part, count: number): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [fileURLToPath(import.meta.url), '--child', part, '--count', String(count)], (error, stdout) => {
      if (error !== null) reject(new Error(`${part}: ${error.message}`));
      else resolve(Number(stdout.trim()));
    });
  });
}

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

if (process.argv.includes('--child')) {
  console.log((await child(option('child', 'spans') as Part, Number(option('count', '200000')))).toFixed(1));
  process.exit(0);
} else {
  const rounds = Number(option('rounds', '5'));
  const count = Number(option('count', '200000'));
  const results = new Map<Part, number[]>();
  const load = () => os.loadavg()[0]!.toFixed(1);
  const start = `${new Date().toISOString()}, load ${load()}`;
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < PARTS.length; k++) {
      const part = PARTS[(k + round) % PARTS.length]!;
      const ns = await spawn(part, count);
      results.set(part, [...(results.get(part) ?? []), ns]);
      console.error(`round ${round + 1} ${part} ${ns.toFixed(1)} ns/op load ${load()}`);
    }
  }
  console.log(`telemetry-floor, ${rounds} rounds, ${count} operations each; ${start} at the start, load ${load()} at the end`);
  console.log('| part | CPU ns per operation (median; range) |');
  console.log('|---|---:|');
  for (const part of PARTS) {
    const values = results.get(part)!;
    console.log(`| ${part} | ${median(values).toFixed(0)} (${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)}) |`);
  }
}
