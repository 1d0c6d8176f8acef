import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AlwaysOffSampler,
  BasicTracerProvider,
  InMemorySpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createTestHarness } from '@missive/testing';
import { defineCommand, defineEvent } from '../contracts/contract.js';
import { traceIdOf } from './trace-context.js';

const OrderPlaced = defineEvent('shop.order-placed', z.object({ orderId: z.string() }));
const ChargeCard = defineCommand('payment.charge-card', z.object({ orderId: z.string() }));

// A sampler that records no new trace and follows the parent's decision otherwise (as
// ParentBased(TraceIdRatioBased) does for the traces it leaves out).
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({
  spanProcessors: [new SimpleSpanProcessor(exporter)],
  sampler: new ParentBasedSampler({ root: new AlwaysOffSampler() }),
});
trace.disable();
context.disable();
trace.setGlobalTracerProvider(provider);
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
});

describe('tracing with a sampler that leaves the trace out', () => {
  it('records no span, and what a handler sends still carries the trace forward, unsampled', async () => {
    const h = createTestHarness();
    const bus = h.bus('shop');
    const seen: { type: string; traceparent: string | undefined; activeRecording: boolean }[] = [];
    bus.endpoint('billing', (e) =>
      e.on(OrderPlaced, (m, ctx) => {
        seen.push({
          type: 'order',
          traceparent: ctx.envelope.traceparent,
          activeRecording: trace.getActiveSpan()?.isRecording() ?? false,
        });
        return ctx.send(ChargeCard, m);
      }),
    );
    bus.endpoint('payment', (e) =>
      e.on(ChargeCard, (_m, ctx) => void seen.push({ type: 'charge', traceparent: ctx.envelope.traceparent, activeRecording: false })),
    );
    await bus.start();
    await bus.publish(OrderPlaced, { orderId: 'o-1' });
    await h.until(() => seen.length === 2, 'the command is handled');
    await h.stop();
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    const [order, charge] = seen as [(typeof seen)[0], (typeof seen)[0]];
    expect(order.activeRecording).toBe(false);
    // The producer span was made (not recorded): its trace travels, flagged not sampled.
    expect(order.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    expect(traceIdOf(charge.traceparent)).toBe(traceIdOf(order.traceparent));
    expect(charge.traceparent?.endsWith('-00')).toBe(true);
  });
});
