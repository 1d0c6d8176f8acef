/**
 * Trace propagation cases: the W3C trace context written into the envelope arrives through the
 * transport, so one trace spans every service whatever carries the messages. Each case registers a
 * capturing tracer provider for its duration, as an application registers the OpenTelemetry SDK.
 *
 * @example
 * ```ts
 * tracingCases(test);
 * ```
 * @module
 */
import { context, createTraceState, trace, TraceFlags, type SpanContext } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { expect } from 'vitest';
import { z } from 'zod';
import { captureSpans } from '../span-capture.js';
import type { CaseRegistrar } from './case.js';

const Order = z.object({ orderId: z.string() });

/** An incoming request's trace context (as an instrumented HTTP server would make active). */
const REQUEST: SpanContext = {
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  traceFlags: TraceFlags.SAMPLED,
  isRemote: true,
  traceState: createTraceState('vendor=opaque'),
};

/** Registers the tracing cases. */
export function tracingCases(test: CaseRegistrar): void {
  test('one trace across three services: publish in an active span, the handler sends a command, parents and tracestate kept', async (env) => {
    const capture = captureSpans();
    try {
      const Placed = env.event('order-placed', Order);
      const Charge = env.command('charge', Order);
      const billing = env.name('billing');
      const payment = env.name('payment');
      const gateway = env.bus('gateway');
      const order = env.bus('order');
      const pay = env.bus('payment');
      const inHandler: { traceId?: string; traceState?: string }[] = [];
      order.endpoint(billing, (e) => e.on(Placed, (m, ctx) => ctx.send(Charge, m, { to: payment })));
      pay.endpoint(payment, (e) =>
        e.on(Charge, () => {
          const active = trace.getActiveSpan()?.spanContext();
          inHandler.push({ traceId: active?.traceId, traceState: active?.traceState?.serialize() });
        }),
      );
      await order.start();
      await pay.start();
      await gateway.start();
      await context.with(trace.setSpanContext(context.active(), REQUEST), () => gateway.publish(Placed, { orderId: 'o-1' }));
      await env.until(() => inHandler.length === 1, 'the command is handled');
      // The payment can be handled before billing's send is confirmed (the send span ends at the
      // confirm, billing's process span after it): wait for all four to end.
      const names = [`publish ${Placed.name}`, `process ${billing}`, `send ${payment}`, `process ${payment}`];
      await env.until(() => names.every((name) => capture.spans().some((s) => s.name === name)), 'all four spans end');
      const spans = capture.spans().filter((s) => s.spanContext().traceId === REQUEST.traceId);
      const find = (name: string): ReadableSpan => {
        const found = spans.filter((s) => s.name === name);
        expect(found.length, `${name} among ${spans.map((s) => s.name).join(', ')}`).toBe(1);
        return found[0]!;
      };
      const published = find(`publish ${Placed.name}`);
      const processed = find(`process ${billing}`);
      const sent = find(`send ${payment}`);
      const charged = find(`process ${payment}`);
      expect(published.parentSpanContext?.spanId).toBe(REQUEST.spanId);
      expect(processed.parentSpanContext?.spanId).toBe(published.spanContext().spanId);
      expect(sent.parentSpanContext?.spanId).toBe(processed.spanContext().spanId);
      expect(charged.parentSpanContext?.spanId).toBe(sent.spanContext().spanId);
      expect(inHandler).toEqual([{ traceId: REQUEST.traceId, traceState: 'vendor=opaque' }]);
    } finally {
      await capture.shutdown();
    }
  });

  test('a redelivered message is a new process span in the same trace, with its attempt', async (env) => {
    const capture = captureSpans();
    try {
      const Placed = env.event('order-placed', Order);
      const billing = env.name('billing');
      const bus = env.bus('shop', { retry: { immediate: 0, delayed: { attempts: 1, initialMs: 50, jitter: 0 } } });
      let calls = 0;
      bus.endpoint(billing, (e) =>
        e.on(Placed, () => {
          calls++;
          if (calls === 1) throw new Error('first attempt fails');
        }),
      );
      await bus.start();
      await bus.publish(Placed, { orderId: 'o-1' });
      await env.until(() => capture.spans().filter((s) => s.name === `process ${billing}`).length === 2, 'two process spans');
      const published = capture.spans().find((s) => s.name === `publish ${Placed.name}`)!;
      const processes = capture.spans().filter((s) => s.name === `process ${billing}`);
      expect(processes.map((s) => s.attributes['missive.attempt'])).toEqual([1, 2]);
      for (const span of processes) {
        expect(span.spanContext().traceId).toBe(published.spanContext().traceId);
        expect(span.parentSpanContext?.spanId).toBe(published.spanContext().spanId);
      }
    } finally {
      await capture.shutdown();
    }
  });
}
