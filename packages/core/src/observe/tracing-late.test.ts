import { trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { createTestHarness } from '@missive/testing';
import { defineEvent } from '../contracts/contract.js';
import { BusMetrics } from './metrics.js';
import { MessageTracing } from './tracing.js';

const OrderPlaced = defineEvent('shop.order-placed', z.object({ orderId: z.string() }));

// No provider is registered when this file starts (each test file runs in a process of its own).
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
});
afterEach(() => vi.restoreAllMocks());

describe('tracing, no provider registered when the bus starts', () => {
  // Runs first: no provider is registered yet.
  it('per message, starts no span, calls no metrics method and does not look up the API global: nothing to record, nothing measured', async () => {
    const h = createTestHarness();
    const bus = h.bus('shop');
    const seen: (string | undefined)[] = [];
    bus.endpoint('billing', (e) => e.on(OrderPlaced, (_m, ctx) => void seen.push(ctx.envelope.traceparent)));
    await bus.start();
    const started = vi.spyOn(MessageTracing.prototype, 'startProducer');
    const provided = vi.spyOn(trace, 'getTracerProvider');
    const measured = (['sent', 'consumed', 'processed'] as const).map((method) => vi.spyOn(BusMetrics.prototype, method));
    const processStarted = vi.spyOn(MessageTracing.prototype, 'startProcess');
    for (let i = 1; i <= 3; i++) await bus.publish(OrderPlaced, { orderId: `o-${i}` });
    await h.until(() => seen.length === 3, 'the orders are handled');
    await h.stop();
    // A producer "span" per publish was made only to carry the parent's trace context and a start
    // time (a clock read) for a duration no meter records.
    expect(started).not.toHaveBeenCalled();
    expect(processStarted).not.toHaveBeenCalled();
    // Each returned at once (no meter provider at start), after a call and the argument reads per message.
    for (const method of measured) expect(method).not.toHaveBeenCalled();
    // Whether tracing is on is read from the bus's own tracer (see MessageTracing.tracingOn), not looked up per message.
    expect(provided).not.toHaveBeenCalled();
    expect(seen).toEqual([undefined, undefined, undefined]);
  });

  it('uses a provider registered after the bus started, from the next message on', async () => {
    const h = createTestHarness();
    const bus = h.bus('shop');
    const seen: { orderId: string; traceparent: string | undefined }[] = [];
    bus.endpoint('billing', (e) =>
      e.on(OrderPlaced, (m, ctx) => void seen.push({ orderId: m.orderId, traceparent: ctx.envelope.traceparent })),
    );
    await bus.start();
    await bus.publish(OrderPlaced, { orderId: 'before' });
    await h.until(() => seen.length === 1, 'the order published before the provider is handled');
    // As an application registers its SDK (no trace.disable() first).
    expect(trace.setGlobalTracerProvider(provider)).toBe(true);
    await bus.publish(OrderPlaced, { orderId: 'after' });
    await h.until(() => seen.length === 2, 'the order published after the provider is handled');
    await h.until(() => exporter.getFinishedSpans().length === 2, 'the publish and process spans end');
    await h.stop();
    const [before, after] = seen as [(typeof seen)[0], (typeof seen)[0]];
    expect(before).toEqual({ orderId: 'before', traceparent: undefined });
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name).sort()).toEqual(['process billing', `publish ${OrderPlaced.name}`]);
    const publish = spans.find((s) => s.name.startsWith('publish'))!;
    const process = spans.find((s) => s.name.startsWith('process'))!;
    expect(after.traceparent).toBe(`00-${publish.spanContext().traceId}-${publish.spanContext().spanId}-01`);
    expect(process.spanContext().traceId).toBe(publish.spanContext().traceId);
    expect(process.parentSpanContext?.spanId).toBe(publish.spanContext().spanId);
  });
});
