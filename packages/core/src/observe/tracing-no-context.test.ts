import { context, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createTestHarness } from '@missive/testing';
import { defineCommand, defineEvent } from '../contracts/contract.js';

const OrderPlaced = defineEvent('shop.order-placed', z.object({ orderId: z.string() }));
const ChargeCard = defineCommand('payment.charge-card', z.object({ orderId: z.string() }));

// A tracer provider and no context manager: handlers do not run inside their span's context.
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
trace.disable();
context.disable();
trace.setGlobalTracerProvider(provider);
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
});

const one = (name: string): ReadableSpan => {
  const found = exporter.getFinishedSpans().filter((s) => s.name === name);
  expect(found, `spans named ${name}`).toHaveLength(1);
  return found[0]!;
};

describe('tracing with a tracer provider and no context manager', () => {
  it('what a handler sends is still a child of its process span', async () => {
    const h = createTestHarness();
    const bus = h.bus('shop');
    let charged = 0;
    bus.endpoint('billing', (e) => e.on(OrderPlaced, (m, ctx) => ctx.send(ChargeCard, m)));
    bus.endpoint('payment', (e) => e.on(ChargeCard, () => void charged++));
    await bus.start();
    await bus.publish(OrderPlaced, { orderId: 'o-1' });
    await h.until(() => charged === 1, 'the command is handled');
    await h.stop();
    const processBilling = one('process billing');
    const send = one('send payment.charge-card');
    expect(send.spanContext().traceId).toBe(processBilling.spanContext().traceId);
    expect(send.parentSpanContext?.spanId).toBe(processBilling.spanContext().spanId);
    expect(one('process payment').parentSpanContext?.spanId).toBe(send.spanContext().spanId);
  });
});
