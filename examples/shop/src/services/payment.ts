/**
 * The payment service; run several instances: they compete for the charge commands. Settings:
 * SHOP_DECLINE_RATE (share of orders declined), SHOP_FAIL_RATE (share of attempts that fail with a
 * transient error, so retries happen), SHOP_SLOW_MS (time a charge takes). Charges are recorded with
 * the inbox in one transaction, so a redelivered command never charges twice.
 */
import { join } from 'node:path';
import { SqliteMessageStore } from '@missive/sqlite';
import { ChargePayment, PaymentCharged, PaymentDeclined, VoidPayment } from '../contracts.js';
import { fraction, run, serviceBus, settings, sleep } from '../runtime.js';

const config = settings();
const declineRate = Number(process.env.SHOP_DECLINE_RATE ?? 0.1);
const failRate = Number(process.env.SHOP_FAIL_RATE ?? 0.2);
const slowMs = Number(process.env.SHOP_SLOW_MS ?? 20);

const store = new SqliteMessageStore({ path: join(config.dataDir, 'payment.db') });
store.db.exec(`
  create table if not exists charges (id integer primary key autoincrement, order_id text not null, amount real not null, instance text not null, at integer not null);
  create table if not exists refunds (order_id text primary key, amount real not null, at integer not null);
  create table if not exists voided (order_id text primary key, at integer not null);
`);
const chargeOf = store.db.prepare('select amount from charges where order_id = ? order by id limit 1');
const insertCharge = store.db.prepare('insert into charges (order_id, amount, instance, at) values (?, ?, ?, ?)');
const isVoided = store.db.prepare('select 1 from voided where order_id = ?');
const insertVoid = store.db.prepare('insert into voided (order_id, at) values (?, ?) on conflict do nothing');
const insertRefund = store.db.prepare('insert into refunds (order_id, amount, at) values (?, ?, ?) on conflict do nothing');

class GatewayUnavailable extends Error {
  override name = 'GatewayUnavailable';
}

const bus = serviceBus('payment', config);
// Every payment instance relays this one payment.db: each message is leased to one relay (see
// `OutboxOptions.leaseMs`); a killed instance's are sent by another after 3 s rather than the default 10.
const outbox = bus.outbox(store, { leaseMs: 3000 });
const charge = outbox.handler<typeof ChargePayment>((cmd, tx) => {
  if (isVoided.get(cmd.orderId) !== undefined) {
    tx.publish(PaymentDeclined, { orderId: cmd.orderId, reason: 'order voided' });
    return;
  }
  if (fraction(`decline:${cmd.orderId}`) < declineRate) {
    tx.publish(PaymentDeclined, { orderId: cmd.orderId, reason: 'card declined' });
    return;
  }
  if (chargeOf.get(cmd.orderId) === undefined) insertCharge.run(cmd.orderId, cmd.amount, config.instance, Date.now());
  tx.publish(PaymentCharged, { orderId: cmd.orderId, amount: cmd.amount });
});
const voidPayment = outbox.handler<typeof VoidPayment>((cmd) => {
  insertVoid.run(cmd.orderId, Date.now());
  const charged = chargeOf.get(cmd.orderId) as { amount: number } | undefined;
  if (charged !== undefined) insertRefund.run(cmd.orderId, charged.amount, Date.now());
});

bus.endpoint(
  'payment',
  (e) =>
    e
      .on(ChargePayment, async (cmd, ctx) => {
        if (slowMs > 0) await sleep(slowMs);
        if (Math.random() < failRate) throw new GatewayUnavailable(`card gateway unavailable (attempt ${ctx.attempt})`);
        await charge(cmd, ctx);
      })
      .on(VoidPayment, voidPayment),
  { concurrency: 4, retry: { immediate: 1, delayed: { attempts: 4, initialMs: 100, factor: 2, jitter: 0.2 } } },
);
await run(bus, `payment#${config.instance}`, '', () => store.close());
