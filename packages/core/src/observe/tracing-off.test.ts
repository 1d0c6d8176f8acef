import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createTestHarness } from '@missive/testing';
import { defineCommand, defineEvent } from '../contracts/contract.js';
import { createEnvelope } from '../message/envelope.js';

const OrderPlaced = defineEvent('shop.order-placed', z.object({ orderId: z.string() }));
const ChargeCard = defineCommand('payment.charge-card', z.object({ orderId: z.string() }));
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('tracing with no provider registered', () => {
  it('starts no trace, and carries an incoming trace context forward unchanged to what the handler sends', async () => {
    const h = createTestHarness();
    const bus = h.bus('shop');
    let charged = 0;
    bus.endpoint('billing', (e) => e.on(OrderPlaced, (m, ctx) => ctx.send(ChargeCard, m)));
    bus.endpoint('payment', (e) => e.on(ChargeCard, () => void charged++));
    await bus.start();
    await bus.publish(OrderPlaced, { orderId: 'o-1' });
    const raw = h.broker.transport();
    await raw.connect();
    const traced = createEnvelope({
      type: OrderPlaced.name,
      source: '/missive/gateway',
      data: { orderId: 'o-2' },
      traceparent: TRACEPARENT,
      tracestate: 'vendor=x',
    });
    await raw.publish(OrderPlaced.name, {
      id: traced.id,
      type: traced.type,
      headers: {},
      body: new TextEncoder().encode(JSON.stringify(traced)),
    });
    await h.until(() => charged === 2, 'both commands handled');
    await h.stop();
    await raw.close();
    const commands = h.published.filter((m) => m.type === ChargeCard.name);
    const untraced = commands.find((m) => (m.data as { orderId: string }).orderId === 'o-1')!;
    const carried = commands.find((m) => (m.data as { orderId: string }).orderId === 'o-2')!;
    expect(h.published.find((m) => m.type === OrderPlaced.name)!.traceparent).toBeUndefined();
    expect(untraced.traceparent).toBeUndefined();
    expect(carried.traceparent).toBe(TRACEPARENT);
    expect(carried.tracestate).toBe('vendor=x');
  });
});
