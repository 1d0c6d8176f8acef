/**
 * What Missive's instrumentation costs per message when no OpenTelemetry provider is registered:
 * the calls one publish and one handled message make (producer span, metrics of the send, process
 * span around the handler, metrics of the attempt), timed in a loop against the same loop without
 * them. CPU-bound and single-threaded, so steadier on a shared machine than a throughput run.
 *
 *   node bench/dist/profile/telemetry-noop.js
 *
 * @module
 */
import { createEnvelope, type Envelope, type QueueInfo } from '@missive/core';

/** The internal classes timed here (not exported by the package), as this script uses them. */
interface ProducerSpan {
  readonly span: object;
}
interface TracingModule {
  MessageTracing: new () => {
    startProducer(operation: 'publish', destination: string, parent: undefined): ProducerSpan;
    message(span: object, envelope: Envelope): void;
    end(span: object): void;
    process(envelope: Envelope, queue: string, attempt: number, replayed: boolean, run: () => Promise<void>): Promise<void>;
  };
}
interface MetricsModule {
  BusMetrics: new () => {
    start(system: string, sources: { queues(): Promise<QueueInfo[]>; endpoints(): [] }): void;
    sent(producer: ProducerSpan, error: undefined): void;
    consumed(queue: string): void;
    processed(queue: string, startedAt: number, error: undefined): void;
  };
}

const core = new URL('../../../packages/core/dist/observe/', import.meta.url);
const { MessageTracing } = (await import(new URL('tracing.js', core).href)) as TracingModule;
const { BusMetrics } = (await import(new URL('metrics.js', core).href)) as MetricsModule;

const N = 1_000_000;
const tracing = new MessageTracing();
const metrics = new BusMetrics();
metrics.start('memory', { queues: () => Promise.resolve([]), endpoints: () => [] });
const envelope = createEnvelope({ type: 'bench.order-placed', source: '/missive/bench', data: { n: 1 } });
const traced = createEnvelope({
  type: 'bench.order-placed',
  source: '/missive/bench',
  data: { n: 1 },
  traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
});
const handler = () => Promise.resolve();

async function bare(): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < N; i++) await handler();
  return performance.now() - start;
}

async function instrumented(message: typeof envelope): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < N; i++) {
    const producer = tracing.startProducer('publish', 'bench.order-placed', undefined);
    tracing.message(producer.span, message);
    tracing.end(producer.span);
    metrics.sent(producer, undefined);
    metrics.consumed('bench');
    const at = performance.now();
    await tracing.process(message, 'bench', 1, false, handler);
    metrics.processed('bench', at, undefined);
  }
  return performance.now() - start;
}

for (let round = 1; round <= 3; round++) {
  const base = await bare();
  const plain = await instrumented(envelope);
  const withContext = await instrumented(traced);
  const ns = (ms: number) => ((ms * 1e6) / N).toFixed(0);
  console.log(
    `round ${round}: bare loop ${ns(base)} ns/message; instrumented ${ns(plain)} ns (+${ns(plain - base)}); with a traceparent to carry ${ns(withContext)} ns (+${ns(withContext - base)})`,
  );
}
