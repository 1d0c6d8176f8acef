/**
 * The inventory service: reserves and releases stock. Reservations are keyed by order, so a
 * redelivered command changes nothing twice; writes and the events they cause commit together.
 */
import { join } from 'node:path';
import { SqliteMessageStore } from '@missive/sqlite';
import { ReleaseStock, ReserveStock, StockReserved, StockUnavailable } from '../contracts.js';
import { run, serviceBus, settings } from '../runtime.js';

const config = settings();
const initialStock = Number(process.env.SHOP_STOCK ?? 1000);
const skus = (process.env.SHOP_SKUS ?? 'book,lamp,mug').split(',');

const store = new SqliteMessageStore({ path: join(config.dataDir, 'inventory.db') });
store.db.exec(`
  create table if not exists stock (sku text primary key, available integer not null);
  create table if not exists reservations (order_id text primary key, sku text not null, qty integer not null);
`);
const seed = store.db.prepare('insert into stock (sku, available) values (?, ?) on conflict do nothing');
for (const sku of skus) seed.run(sku, initialStock);
seed.run('limited', Number(process.env.SHOP_LIMITED_STOCK ?? 10)); // runs out: some orders are cancelled for stock
const reservation = store.db.prepare('select sku, qty from reservations where order_id = ?');
const available = store.db.prepare('select available from stock where sku = ?');
const take = store.db.prepare('update stock set available = available - ? where sku = ?');
const give = store.db.prepare('update stock set available = available + ? where sku = ?');
const reserve = store.db.prepare('insert into reservations (order_id, sku, qty) values (?, ?, ?)');
const unreserve = store.db.prepare('delete from reservations where order_id = ?');

const bus = serviceBus('inventory', config);
const outbox = bus.outbox(store);
bus.endpoint(
  'inventory',
  (e) => {
    e.on(
      ReserveStock,
      outbox.handler((cmd, tx) => {
        if (reservation.get(cmd.orderId) === undefined) {
          const row = available.get(cmd.sku) as { available: number } | undefined;
          if (row === undefined || row.available < cmd.qty) {
            tx.publish(StockUnavailable, { orderId: cmd.orderId });
            return;
          }
          take.run(cmd.qty, cmd.sku);
          reserve.run(cmd.orderId, cmd.sku, cmd.qty);
        }
        tx.publish(StockReserved, { orderId: cmd.orderId });
      }),
    );
    e.on(
      ReleaseStock,
      outbox.handler((cmd) => {
        const row = reservation.get(cmd.orderId) as { sku: string; qty: number } | undefined;
        if (row === undefined) return;
        give.run(row.qty, row.sku);
        unreserve.run(cmd.orderId);
      }),
    );
  },
  { concurrency: 4 },
);
await run(bus, 'inventory', '', () => store.close());
