/**
 * Shop-like services for the dashboard's browser test, in one process on one SQLite bus file:
 * order (a tiny saga: reserve stock, charge, confirm; on a declined payment it releases the stock
 * and cancels: compensations), inventory and payment. Payment dead-letters the orders listed in
 * `down` (its card gateway refuses them) until they are taken out. Every bus journals and
 * announces itself.
 */
import { createBus, defineCommand, defineEvent, silentLogger, UnrecoverableError, type Bus } from '@missive/core';
import { z } from 'zod';
import { announce } from '../src/catalog/announce.js';
import { journal, type Journal } from '../src/journal/journal.js';
import type { JournalStore } from '../src/journal/journal-store.js';

export const OrderPlaced = defineEvent('shop.order-placed', z.object({ orderId: z.string(), sku: z.string(), amount: z.number() }));
export const OrderConfirmed = defineEvent('shop.order-confirmed', z.object({ orderId: z.string() }));
export const OrderCancelled = defineEvent('shop.order-cancelled', z.object({ orderId: z.string(), reason: z.string() }));
export const ReserveStock = defineCommand('inventory.reserve-stock', z.object({ orderId: z.string(), sku: z.string() }));
export const ReleaseStock = defineCommand('inventory.release-stock', z.object({ orderId: z.string(), sku: z.string() }));
export const StockReserved = defineEvent(
  'inventory.stock-reserved',
  z.object({ orderId: z.string(), sku: z.string(), amount: z.number() }),
);
export const ChargePayment = defineCommand(
  'payment.charge-payment',
  z.object({ orderId: z.string(), sku: z.string(), amount: z.number(), cardNumber: z.string() }),
);
export const PaymentCharged = defineEvent('payment.payment-charged', z.object({ orderId: z.string() }));
export const PaymentDeclined = defineEvent(
  'payment.payment-declined',
  z.object({ orderId: z.string(), sku: z.string(), reason: z.string() }),
);

/** The running services. */
export interface ShopLike {
  readonly buses: readonly Bus[];
  readonly journals: readonly Journal[];
  /** Order ids whose charge the payment service refuses (dead-letters). */
  readonly down: Set<string>;
  /** Order ids the payment service declines (a compensation follows). */
  readonly declined: Set<string>;
  stop(): Promise<void>;
}

/** Starts the services on `url`, journaling to `store`. */
export async function startShopLike(url: string, store: JournalStore): Promise<ShopLike> {
  const down = new Set<string>();
  const declined = new Set<string>();
  const bus = (service: string) => createBus({ service, transport: url, logger: silentLogger, retry: { immediate: 0, delayed: false } });
  const order = bus('order');
  order.endpoint('order', (e) =>
    e
      .on(OrderPlaced, (o, ctx) => ctx.send(ReserveStock, { orderId: o.orderId, sku: o.sku }))
      .on(StockReserved, (s, ctx) =>
        ctx.send(ChargePayment, { orderId: s.orderId, sku: s.sku, amount: s.amount, cardNumber: '4111 1111 1111 1111' }),
      )
      .on(PaymentCharged, (p, ctx) => ctx.publish(OrderConfirmed, { orderId: p.orderId }))
      .on(PaymentDeclined, async (p, ctx) => {
        await ctx.send(ReleaseStock, { orderId: p.orderId, sku: p.sku });
        await ctx.publish(OrderCancelled, { orderId: p.orderId, reason: p.reason });
      }),
  );
  const inventory = bus('inventory');
  inventory.endpoint('inventory', (e) =>
    e
      .on(ReserveStock, (r, ctx) => ctx.publish(StockReserved, { orderId: r.orderId, sku: r.sku, amount: 30 }))
      .on(ReleaseStock, () => undefined),
  );
  const payment = bus('payment');
  payment.endpoint('payment', (e) =>
    e.on(ChargePayment, async (c, ctx) => {
      if (down.has(c.orderId)) throw new UnrecoverableError(`card gateway refused order ${c.orderId}`);
      if (declined.has(c.orderId)) await ctx.publish(PaymentDeclined, { orderId: c.orderId, sku: c.sku, reason: 'card declined' });
      else await ctx.publish(PaymentCharged, { orderId: c.orderId });
    }),
  );
  const analytics = bus('analytics');
  analytics.endpoint('analytics', (e) => e.on(OrderConfirmed, () => undefined).on(OrderCancelled, () => undefined));
  const gateway = bus('gateway');
  const buses = [order, inventory, payment, analytics, gateway];
  const journals = buses.map((b) => journal(b, { store, payloads: { redact: ['cardNumber'] }, flushMs: 20 }));
  for (const b of buses) announce(b, { version: '1.0.0' });
  for (const b of buses) await b.start();
  return {
    buses,
    journals,
    down,
    declined,
    async stop() {
      for (const b of buses) await b.stop();
    },
  };
}
