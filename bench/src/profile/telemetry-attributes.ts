/**
 * How a `process` span's 9 attributes cost least to hand to the OpenTelemetry SDK (issue 15, sixth
 * pass), CPU ns per span, the three ways alternating round by round in one process:
 *
 * - `setEach`: the 5 attributes of the queue as one frozen object made once (`setAttributes`), the
 *   4 of the message by `setAttribute` (what @missive/core does);
 * - `setAttributesOnce`: one `setAttributes` of a 9-key object made per span;
 * - `atStart`: the 9-key object as `startSpan`'s `attributes` (the SDK copies it twice, then sets it).
 *
 * The SDK's `BasicTracerProvider` with a batching processor and an exporter that discards.
 *
 * ```sh
 * node bench/dist/profile/telemetry-attributes.js [--rounds 12] [--count 100000]
 * ```
 * @module
 */
import { ROOT_CONTEXT, SpanKind } from '@opentelemetry/api';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1]! : fallback;
}

const discard: SpanExporter = { export: (_spans, done) => done({ code: 0 }), shutdown: () => Promise.resolve() };
const provider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(discard, { scheduledDelayMillis: 1000 })] });
const tracer = provider.getTracer('telemetry-attributes');
const queue = Object.freeze({
  'messaging.system': 'rabbitmq',
  'messaging.destination.name': 'billing',
  'messaging.consumer.group.name': 'billing',
  'messaging.operation.type': 'process',
  'messaging.operation.name': 'process',
});
const CONSUMER = Object.freeze({ kind: SpanKind.CONSUMER });
let n = 0;
const id = (): string => `id-${n & 7}`;

const ways: Record<string, () => void> = {
  setEach() {
    const span = tracer.startSpan('process billing', CONSUMER, ROOT_CONTEXT);
    span.setAttributes(queue);
    span.setAttribute('messaging.message.id', id());
    span.setAttribute('messaging.message.conversation_id', 'c-1');
    span.setAttribute('missive.message.type', 'shop.order-placed');
    span.setAttribute('missive.attempt', 1);
    span.end();
  },
  setAttributesOnce() {
    const span = tracer.startSpan('process billing', CONSUMER, ROOT_CONTEXT);
    span.setAttributes({
      ...queue,
      'messaging.message.id': id(),
      'messaging.message.conversation_id': 'c-1',
      'missive.message.type': 'shop.order-placed',
      'missive.attempt': 1,
    });
    span.end();
  },
  atStart() {
    const attributes = {
      ...queue,
      'messaging.message.id': id(),
      'messaging.message.conversation_id': 'c-1',
      'missive.message.type': 'shop.order-placed',
      'missive.attempt': 1,
    };
    tracer.startSpan('process billing', { kind: SpanKind.CONSUMER, attributes }, ROOT_CONTEXT).end();
  },
};

const rounds = Number(option('rounds', '12'));
const count = Number(option('count', '100000'));
const results = new Map<string, number[]>();
for (let round = 0; round < rounds; round++) {
  for (const [name, way] of Object.entries(ways)) {
    const before = process.cpuUsage();
    for (let i = 0; i < count; i++) {
      n++;
      way();
    }
    const used = process.cpuUsage(before);
    // The first two rounds warm up.
    if (round > 1) results.set(name, [...(results.get(name) ?? []), ((used.user + used.system) * 1000) / count]);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
for (const [name, ns] of results) {
  ns.sort((a, b) => a - b);
  console.log(`${name}: ${ns[ns.length >> 1]!.toFixed(0)} ns per span (${ns[0]!.toFixed(0)}–${ns[ns.length - 1]!.toFixed(0)})`);
}
await provider.shutdown();
