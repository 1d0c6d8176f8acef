/**
 * A process that places an order through the outbox and crashes (SIGKILL to itself) at a chosen
 * point, or recovers: starts again on the same database so its relay publishes what was left (once
 * the dead relay's lease on it ran out: `leaseMs`, short here).
 * Arguments: busPath storePath mode orderId — mode is before-commit | after-commit | after-dispatch | recover.
 */
import { createBus, defineEvent, silentLogger, type PublishContext } from '@missive/core';
import { z } from 'zod';
import { SqliteMessageStore } from '../sqlite-message-store.js';
import { SqliteTransport } from '../sqlite-transport.js';

const [busPath, storePath, mode, orderId] = process.argv.slice(2) as [string, string, string, string];
const OrderPlaced = defineEvent('crash.order-placed', z.object({ orderId: z.string() }));
const Marker = defineEvent('crash.marker', z.object({ orderId: z.string() }));
const die = () => process.kill(process.pid, 'SIGKILL');

const store = new SqliteMessageStore({ path: storePath });
store.db.exec('create table if not exists orders (id text primary key)');
const killBeforeDispatch = async (ctx: PublishContext, next: () => Promise<void>) => {
  if (mode === 'after-commit' && ctx.envelope.type === OrderPlaced.name) die();
  await next();
};
const bus = createBus({
  service: 'crasher',
  transport: new SqliteTransport({ path: busPath }),
  logger: silentLogger,
  middleware: { publish: [killBeforeDispatch] },
});
/** What the crashed process left in the outbox (recover mode): resolves once this relay sent it all. */
const left = new Set((await store.pendingOutbox(100)).map((r) => r.id));
let allSent!: () => void;
const leftSent = new Promise<void>((resolve) => (allSent = resolve));
if (left.size === 0) allSent();
const outbox = bus.outbox(store, {
  pollIntervalMs: 100,
  leaseMs: 500,
  onDispatched: (record) => {
    if (mode === 'after-dispatch' && record.message.type === OrderPlaced.name) die();
    if (left.delete(record.id) && left.size === 0) allSent();
  },
});
await bus.start();
if (mode === 'recover') {
  // The relay's timers (the system clock's) do not keep a process alive, and this bus consumes
  // nothing: started within the dead relay's lease, the process would end here (exit 13, an
  // unsettled top-level await) before its next poll could take the messages over.
  const alive = setInterval(() => undefined, 1000);
  await leftSent;
  await outbox.flush();
  await outbox.transaction((tx) => tx.publish(Marker, { orderId }));
  await outbox.flush();
  process.stdout.write('recovered\n');
  clearInterval(alive);
  await bus.stop();
  process.exit(0);
}
await outbox.transaction((tx) => {
  tx.db.prepare('insert into orders (id) values (?)').run(orderId);
  tx.publish(OrderPlaced, { orderId });
  if (mode === 'before-commit') die();
});
await new Promise(() => undefined); // the relay's dispatch kills the process
