import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { captureSpans, createTestHarness } from '@missive/testing';
import { defineCommand, defineEvent, defineQuery } from '../contracts/contract.js';
import { MemoryMessageStore } from '../workflows/memory-store.js';
import { createBus } from '../bus/bus.js';
import { silentLogger } from '../logger.js';

const OrderPlaced = defineEvent('shop.order-placed', z.object({ orderId: z.string() }));
const ChargeCard = defineCommand('payment.charge-card', z.object({ orderId: z.string() }));
const GetStock = defineQuery('inventory.get-stock', z.object({ sku: z.string() }), z.object({ available: z.number() }));

const capture = captureSpans();
afterAll(() => capture.shutdown());
beforeEach(() => capture.reset());

const named = (name: string) => capture.spans().filter((s) => s.name === name);
const one = (name: string): ReadableSpan => {
  const found = named(name);
  expect(
    found,
    `spans named ${name} among ${capture
      .spans()
      .map((s) => s.name)
      .join(', ')}`,
  ).toHaveLength(1);
  return found[0]!;
};
/** Waits until `done()`, a macrotask at a time. */
const until = async (done: () => boolean): Promise<void> => {
  while (!done()) await new Promise((resolve) => setImmediate(resolve));
};
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

describe('tracing (OpenTelemetry messaging conventions)', () => {
  it('a publish inside an active span continues its trace, through handlers and the commands they send', async () => {
    const h = createTestHarness();
    const shop = h.bus('shop');
    const payment = h.bus('payment');
    let activeInHandler: string | undefined;
    shop.endpoint('billing', (e) => e.on(OrderPlaced, (order, ctx) => ctx.send(ChargeCard, { orderId: order.orderId })));
    payment.endpoint('payment', (e) => e.on(ChargeCard, () => void (activeInHandler = trace.getActiveSpan()?.spanContext().traceId)));
    await shop.start();
    await payment.start();
    await trace.getTracer('test').startActiveSpan('POST /orders', { kind: SpanKind.SERVER }, async (span) => {
      await shop.publish(OrderPlaced, { orderId: 'o-1' });
      span.end();
    });
    await h.until(() => named('process payment').length === 1, 'the command is handled');
    await h.stop();

    const http = one('POST /orders');
    const publish = one('publish shop.order-placed');
    const processBilling = one('process billing');
    const send = one('send payment.charge-card');
    const processPayment = one('process payment');
    const traceId = http.spanContext().traceId;
    for (const span of [publish, processBilling, send, processPayment]) expect(span.spanContext().traceId).toBe(traceId);
    expect(parentOf(publish)).toBe(http.spanContext().spanId);
    expect(parentOf(processBilling)).toBe(publish.spanContext().spanId);
    expect(parentOf(send)).toBe(processBilling.spanContext().spanId);
    expect(parentOf(processPayment)).toBe(send.spanContext().spanId);
    expect(activeInHandler).toBe(traceId);

    expect(publish.kind).toBe(SpanKind.PRODUCER);
    expect(publish.attributes).toMatchObject({
      'messaging.system': 'memory',
      'messaging.destination.name': 'shop.order-placed',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'publish',
    });
    const sent = h.published.find((m) => m.type === ChargeCard.name)!;
    expect(send.attributes).toMatchObject({
      'messaging.operation.name': 'send',
      'messaging.message.id': sent.id,
      'messaging.message.conversation_id': sent.conversationid,
    });
    expect(processPayment.kind).toBe(SpanKind.CONSUMER);
    expect(processPayment.attributes).toMatchObject({
      'messaging.system': 'memory',
      'messaging.destination.name': 'payment',
      'messaging.consumer.group.name': 'payment',
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.message.id': sent.id,
      'missive.attempt': 1,
    });
    // The envelope carries the producer span's context (W3C traceparent).
    expect(sent.traceparent).toBe(`00-${traceId}-${send.spanContext().spanId}-01`);
  });

  it('a publish outside any span starts a trace; each retry is a process span of its own with its attempt and error', async () => {
    const h = createTestHarness();
    const bus = h.bus('shop', { retry: { immediate: 1, delayed: { attempts: 1, initialMs: 1000, jitter: 0 } } });
    let calls = 0;
    bus.endpoint('billing', (e) =>
      e.on(OrderPlaced, () => {
        calls++;
        if (calls < 3) throw new Error(`attempt ${calls} fails`);
      }),
    );
    await bus.start();
    await bus.publish(OrderPlaced, { orderId: 'o-1' });
    await h.until(() => calls === 3, 'the third attempt');
    await h.idle();
    await h.stop();
    const publish = one('publish shop.order-placed');
    expect(publish.parentSpanContext).toBeUndefined();
    const processes = named('process billing');
    expect(processes.map((s) => s.attributes['missive.attempt'])).toEqual([1, 2, 3]);
    for (const span of processes) {
      expect(span.spanContext().traceId).toBe(publish.spanContext().traceId);
      expect(parentOf(span)).toBe(publish.spanContext().spanId);
    }
    expect(processes.map((s) => s.status.code)).toEqual([SpanStatusCode.ERROR, SpanStatusCode.ERROR, SpanStatusCode.UNSET]);
    expect(processes[0]!.attributes['error.type']).toBe('Error');
    expect(processes[0]!.events.map((e) => e.name)).toEqual(['exception']);
  });

  it('outbox messages get a create span in the handler trace, relayed by a publish span that continues it', async () => {
    const h = createTestHarness();
    const store = new MemoryMessageStore();
    const bus = h.bus('shop');
    const outbox = bus.outbox(store);
    let handled = 0;
    bus.endpoint('audit', (e) => e.on(OrderPlaced, () => void handled++));
    await bus.start();
    await trace.getTracer('test').startActiveSpan('job', async (span) => {
      await outbox.transaction((tx) => tx.publish(OrderPlaced, { orderId: 'o-1' }));
      span.end();
    });
    await h.until(() => handled === 1, 'the relayed event is handled');
    await h.stop();
    const job = one('job');
    const create = one('create shop.order-placed');
    const relay = one('publish shop.order-placed');
    const processed = one('process audit');
    expect(create.attributes['messaging.operation.type']).toBe('create');
    expect(parentOf(create)).toBe(job.spanContext().spanId);
    expect(parentOf(relay)).toBe(create.spanContext().spanId);
    expect(parentOf(processed)).toBe(create.spanContext().spanId);
    for (const span of [create, relay, processed]) expect(span.spanContext().traceId).toBe(job.spanContext().traceId);
  });

  it('a dead letter is a settle span in its trace; its replay starts a new trace linked to the first', async () => {
    const h = createTestHarness();
    const bus = h.bus('shop', { retry: { immediate: 0, delayed: false } });
    let fail = true;
    let handled = 0;
    bus.endpoint('billing', (e) =>
      e.on(OrderPlaced, () => {
        if (fail) throw new Error('down');
        handled++;
      }),
    );
    await bus.start();
    await bus.publish(OrderPlaced, { orderId: 'o-1' });
    await h.until(() => h.deadLettered.length === 1, 'dead-lettered');
    const first = one('process billing');
    const settle = one('dead_letter billing');
    expect(settle.attributes).toMatchObject({
      'messaging.operation.type': 'settle',
      'missive.dead_letter.reason': 'HANDLER_FAILED',
      'error.type': 'Error',
    });
    expect(settle.spanContext().traceId).toBe(first.spanContext().traceId);
    capture.reset();
    fail = false;
    await bus.deadLetters.replay('billing', 'all');
    await h.until(() => handled === 1, 'the replay is handled');
    await h.stop();
    const replayed = one('process billing');
    expect(replayed.spanContext().traceId).not.toBe(first.spanContext().traceId);
    expect(replayed.parentSpanContext).toBeUndefined();
    expect(replayed.links.map((l) => l.context.traceId)).toEqual([first.spanContext().traceId]);
  });

  it("a synchronous handler's process span ends as the handler returns, and an asynchronous one's when its promise settles", async () => {
    // With the Node SDK's context manager every promise pays its hook: the traced attempt of a
    // handler that returns at once makes none of its own (a microtask the handler queued finds its
    // span ended); one that returns a promise is ended when the promise settles, with its outcome.
    // A bus without middleware (the harness adds some, and middleware's `next` is a promise).
    const bus = createBus({ service: 'shop', transport: 'memory://', logger: silentLogger });
    const endedByNextMicrotask: boolean[] = [];
    const note = () => {
      const span = trace.getActiveSpan()!;
      queueMicrotask(() => endedByNextMicrotask.push(!span.isRecording()));
    };
    let asyncFails = false;
    bus.endpoint('billing', (e) => e.on(OrderPlaced, note));
    bus.endpoint('payment', (e) =>
      e.on(ChargeCard, async () => {
        await Promise.resolve();
        if (asyncFails) throw new Error('declined');
      }),
    );
    await bus.start();
    await bus.publish(OrderPlaced, { orderId: 'o-1' });
    await bus.send(ChargeCard, { orderId: 'o-1' }, { to: 'payment' });
    await until(() => named('process billing').length === 1 && named('process payment').length === 1);
    expect(endedByNextMicrotask).toEqual([true]);
    expect(one('process payment').status.code).toBe(SpanStatusCode.UNSET);
    asyncFails = true;
    capture.reset();
    await bus.send(ChargeCard, { orderId: 'o-2' }, { to: 'payment' });
    await until(() => named('process payment').length >= 1);
    await bus.stop();
    const failed = named('process payment')[0]!;
    expect(failed.status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'declined' });
    expect(failed.attributes['error.type']).toBe('Error');
  });

  it('request and reply stay in one trace', async () => {
    const h = createTestHarness();
    const bus = h.bus('shop');
    bus.endpoint('inventory', (e) => e.reply(GetStock, (q) => ({ available: q.sku.length })));
    await bus.start();
    await trace.getTracer('test').startActiveSpan('GET /stock', async (span) => {
      expect(await bus.request(GetStock, { sku: 'abc' })).toEqual({ available: 3 });
      span.end();
    });
    await h.stop();
    const root = one('GET /stock');
    const ask = one('send inventory.get-stock');
    const answer = one('process inventory');
    const reply = capture.spans().find((s) => s.name.startsWith('send shop.replies.'))!;
    expect(parentOf(ask)).toBe(root.spanContext().spanId);
    expect(parentOf(answer)).toBe(ask.spanContext().spanId);
    expect(parentOf(reply)).toBe(answer.spanContext().spanId);
  });
});
