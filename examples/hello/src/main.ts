/**
 * Missive in one process, on the memory transport: an event with two independent subscribers, a
 * command to a queue with two competing instances, and a request/reply. Run with `npm start`.
 */
import { createBus, defineCommand, defineEvent, defineQuery, MemoryBroker } from '@missive/core';
import { z } from 'zod';

const OrderPlaced = defineEvent('shop.order-placed', z.object({ orderId: z.string(), total: z.number() }));
const ShipOrder = defineCommand('shipping.ship-order', z.object({ orderId: z.string() }));
const GetStock = defineQuery('inventory.get-stock', z.object({ sku: z.string() }), z.object({ available: z.number() }));

const log = (who: string, text: string) => console.log(`${who.padEnd(12)} ${text}`);
const broker = new MemoryBroker(); // stands in for a real broker: every bus below connects to it
const shipped = { total: 0, done: () => undefined as unknown };
const allShipped = new Promise<void>((resolve) => (shipped.done = resolve));

// Two services subscribe to OrderPlaced: each gets its own copy (independent consumers).
const billing = createBus({ service: 'billing', transport: broker.transport() });
billing.endpoint('billing', (e) => e.on(OrderPlaced, (order) => log('billing', `invoice for ${order.orderId}: ${order.total.toFixed(2)}`)));
const email = createBus({ service: 'email', transport: broker.transport() });
email.endpoint('email', (e) =>
  e.on(OrderPlaced, async (order, ctx) => {
    log('email', `confirmation mail for ${order.orderId}`);
    await ctx.send(ShipOrder, { orderId: order.orderId }); // correlated with the order
  }),
);

// Two instances of the shipping service share one queue: each command is handled once (competing consumers).
const shipping = [1, 2].map((instance) => {
  const bus = createBus({ service: 'shipping', transport: broker.transport() });
  bus.endpoint(
    'shipping',
    (e) =>
      e.on(ShipOrder, (cmd, ctx) => {
        log(`shipping#${instance}`, `ships ${cmd.orderId} (correlation ${ctx.correlationId.slice(0, 8)})`);
        if (++shipped.total === 4) shipped.done();
      }),
    { concurrency: 1, prefetch: 1 },
  );
  return bus;
});

// Inventory answers queries (request/reply).
const inventory = createBus({ service: 'inventory', transport: broker.transport() });
inventory.endpoint('inventory', (e) => e.reply(GetStock, (q) => ({ available: q.sku === 'book' ? 3 : 0 })));

const shop = createBus({ service: 'shop', transport: broker.transport() });
const buses = [billing, email, ...shipping, inventory, shop];
await Promise.all(buses.map((b) => b.start()));

for (const sku of ['book', 'lamp']) {
  const { available } = await shop.request(GetStock, { sku }, { timeoutMs: 2000 });
  log('shop', `asked inventory for ${sku}: ${available} available`);
}
for (const [orderId, total] of [
  ['o-1', 30],
  ['o-2', 12.5],
  ['o-3', 99],
  ['o-4', 5],
] as const) {
  await shop.publish(OrderPlaced, { orderId, total });
  log('shop', `published OrderPlaced ${orderId}`);
}
await allShipped;
await Promise.all(buses.map((b) => b.stop()));
log('shop', 'all four orders invoiced, mailed and shipped; buses stopped');
