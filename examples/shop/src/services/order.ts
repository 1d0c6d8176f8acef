/**
 * The order service: owns the order saga. Order placed → reserve stock → charge payment → confirmed.
 * Out of stock cancels without charging; a declined payment releases the stock and cancels; an
 * order that hears nothing from payment in time releases its stock and cancels. Instances live in
 * the service's own SQLite database (in PostgreSQL when the bus runs on `postgres://`), next to its
 * outbox and inbox. Answers order-status queries.
 */
import { join } from 'node:path';
import { defineSaga, type MessageStore, type SagaContext } from '@missive/core';
import { z } from 'zod';
import {
  ChargePayment,
  GetOrderStatus,
  OrderCancelled,
  OrderConfirmed,
  OrderPlaced,
  PaymentCharged,
  PaymentDeclined,
  ReleaseStock,
  ReserveStock,
  VoidPayment,
  StockReserved,
  StockUnavailable,
} from '../contracts.js';
import { orderSchema } from '../order-store.js';
import { run, serviceBus, settings } from '../runtime.js';

const config = settings();
const paymentTimeoutMs = Number(process.env.SHOP_PAYMENT_TIMEOUT_MS ?? 20_000);
/**
 * The saga store: on PostgreSQL the saga instances, outbox and inbox live in the same database, a
 * schema per run (`order-store.ts`; the launcher drops it after the run); elsewhere in the service's own SQLite file. Each package is loaded only when it
 * is used (loading the PostgreSQL driver on SQLite cost the service 30–100 ms of its start).
 */
async function openStore(): Promise<MessageStore> {
  if (config.url.startsWith('postgres')) {
    const { PostgresMessageStore, postgresOptionsFromUrl } = await import('@missive/postgres');
    return new PostgresMessageStore({
      connectionString: postgresOptionsFromUrl(new URL(config.url)).connectionString,
      schema: orderSchema(config.dataDir),
    });
  }
  const { SqliteMessageStore } = await import('@missive/sqlite');
  return new SqliteMessageStore({ path: join(config.dataDir, 'order.db') });
}
const store = await openStore();

const State = z.object({
  orderId: z.string(),
  sku: z.string(),
  qty: z.number(),
  amount: z.number(),
  placedAt: z.number(),
  status: z.enum(['reserving', 'charging', 'confirmed', 'cancelled']),
});
const byOrder = (m: { orderId: string }) => m.orderId;

export const OrderSaga = defineSaga('shop.order', State)
  .startedBy(OrderPlaced, {
    correlate: byOrder,
    initial: (m) => ({ orderId: m.orderId, sku: m.sku, qty: m.qty, amount: m.amount, placedAt: m.placedAt, status: 'reserving' as const }),
    handle: (m, saga) => saga.send(ReserveStock, { orderId: m.orderId, sku: m.sku, qty: m.qty }),
  })
  .on(StockReserved, {
    correlate: byOrder,
    handle: (m, saga) => {
      saga.addCompensation('release-stock', { orderId: m.orderId, sku: saga.state.sku, qty: saga.state.qty });
      // Registered before the charge is asked for: whatever happens to it, cancelling voids it.
      saga.addCompensation('void-payment', { orderId: m.orderId });
      saga.state.status = 'charging';
      saga.send(ChargePayment, { orderId: m.orderId, amount: saga.state.amount });
      saga.scheduleTimeout('payment', { delayMs: paymentTimeoutMs });
    },
  })
  .on(StockUnavailable, { correlate: byOrder, handle: (_m, saga) => cancel(saga, 'out of stock') })
  .on(PaymentDeclined, { correlate: byOrder, handle: (m, saga) => cancel(saga, `payment declined: ${m.reason}`) })
  .on(PaymentCharged, {
    correlate: byOrder,
    handle: (m, saga) => {
      saga.state.status = 'confirmed';
      saga.publish(OrderConfirmed, { orderId: m.orderId, amount: m.amount, placedAt: saga.state.placedAt });
      saga.complete();
    },
  })
  .onTimeout('payment', (saga) => cancel(saga, 'payment did not answer in time'))
  .compensation('release-stock', (data: { orderId: string; sku: string; qty: number }, saga) => saga.send(ReleaseStock, data))
  .compensation('void-payment', (data: { orderId: string }, saga) => saga.send(VoidPayment, data));

function cancel(saga: SagaContext<z.infer<typeof State>>, reason: string): void {
  saga.state.status = 'cancelled';
  saga.publish(OrderCancelled, { orderId: saga.state.orderId, reason, placedAt: saga.state.placedAt });
  saga.compensate(reason);
}

const bus = serviceBus('order', config);
bus.saga(OrderSaga, { store, endpoint: 'order', concurrency: 8 });
bus.endpoint('order-status', (e) =>
  e.reply(GetOrderStatus, async (q) => {
    const record = await store.loadSaga(OrderSaga.name, q.orderId);
    if (record === undefined) return { orderId: q.orderId, status: 'unknown' };
    const state = record.state as z.infer<typeof State>;
    return { orderId: q.orderId, status: state.status, reason: record.reason };
  }),
);
await run(bus, 'order', '', () => store.close());
