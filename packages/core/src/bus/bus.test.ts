import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createTestHarness } from '@missive/testing';
import { defineCommand, defineEvent, defineQuery } from '../contracts/contract.js';

const OrderPlaced = defineEvent('shop.order-placed', z.object({ orderId: z.string(), total: z.number() }));
const ChargeCard = defineCommand('payment.charge-card', z.object({ orderId: z.string(), amount: z.number() }));
const GetStock = defineQuery('inventory.get-stock', z.object({ sku: z.string() }), z.object({ available: z.number() }));

describe('bus on the memory transport', () => {
  it('publishes to subscribers, sends commands, answers queries, carrying correlation forward', async () => {
    const h = createTestHarness();
    const bus = h.bus('shop');
    const charged: { orderId: string; correlationId: string; causationId: string | undefined }[] = [];
    bus.endpoint('billing', (e) =>
      e.on(OrderPlaced, async (order, ctx) => {
        await ctx.send(ChargeCard, { orderId: order.orderId, amount: order.total });
      }),
    );
    bus.endpoint('payment', (e) =>
      e.on(ChargeCard, (cmd, ctx) => {
        charged.push({ orderId: cmd.orderId, correlationId: ctx.correlationId, causationId: ctx.causationId });
      }),
    );
    bus.endpoint('inventory', (e) => e.reply(GetStock, (q) => ({ available: q.sku.length })));
    await bus.start();
    await bus.publish(OrderPlaced, { orderId: 'o-1', total: 30 });
    await h.idle();
    const placed = h.published.find((m) => m.type === OrderPlaced.name)!;
    expect(charged).toEqual([{ orderId: 'o-1', correlationId: placed.id, causationId: placed.id }]);
    const reply = await bus.request(GetStock, { sku: 'abcd' });
    expect(reply).toEqual({ available: 4 });
    await h.stop();
  });

  it('runs at most `concurrency` handlers at once, and every message, when many wait (the loop takes waiting deliveries without the iterator)', async () => {
    const h = createTestHarness();
    const bus = h.bus('busy');
    const running = new Set<string>();
    let most = 0;
    const handled: string[] = [];
    const gates: (() => void)[] = [];
    bus.endpoint(
      'busy',
      (e) =>
        e.on(OrderPlaced, async (order) => {
          running.add(order.orderId);
          most = Math.max(most, running.size);
          await new Promise<void>((resolve) => gates.push(resolve));
          running.delete(order.orderId);
          handled.push(order.orderId);
        }),
      { concurrency: 3, prefetch: 10 },
    );
    await bus.start();
    await Promise.all(Array.from({ length: 30 }, (_, n) => bus.publish(OrderPlaced, { orderId: `o-${n}`, total: n })));
    while (handled.length < 30) {
      await h.until(() => gates.length > 0, 'a handler waiting');
      gates.splice(0).forEach((open) => open());
      await h.idle();
    }
    expect(most).toBe(3);
    expect(handled).toEqual(Array.from({ length: 30 }, (_, n) => `o-${n}`));
    await h.stop();
  });
});
