/** The notification service: tells customers how their order ended (here: a line on stderr with SHOP_VERBOSE=1). */
import { OrderCancelled, OrderConfirmed } from '../contracts.js';
import { run, serviceBus, settings } from '../runtime.js';

const config = settings();
const verbose = process.env.SHOP_VERBOSE === '1';
const bus = serviceBus('notification', config);
bus.endpoint('notification', (e) => {
  e.on(OrderConfirmed, (m) => {
    if (verbose) process.stderr.write(`notification: order ${m.orderId} confirmed, ${m.amount.toFixed(2)} charged\n`);
  });
  e.on(OrderCancelled, (m) => {
    if (verbose) process.stderr.write(`notification: order ${m.orderId} cancelled (${m.reason})\n`);
  });
});
await run(bus, 'notification');
