/**
 * The catalog over real transports: two services announce themselves, a catalog on its own
 * connection sees both with who sends and who handles what, and one leaves when it stops. On
 * SQLite always; on RabbitMQ, Redis and NATS when they are reachable (MISSIVE_REQUIRE_BROKERS=1
 * makes an unreachable one fail). Service names are unique per run: the brokers are shared.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createBus, defineCommand, silentLogger, systemClock } from '@missive/core';
import { loadTransport, parseTransportUrl } from '@missive/core/transport';
import { brokersRequired } from '@missive/testing/vitest';
import { announce } from './announce.js';
import { watchCatalog } from './catalog.js';

const dir = mkdtempSync(join(tmpdir(), 'missive-catalog-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });
}

const transports: [string, string, number | undefined][] = [
  ['sqlite', `sqlite://${join(dir, 'bus.db')}`, undefined],
  ['rabbitmq', 'amqp://guest:guest@127.0.0.1:5672', 5672],
  ['redis', 'redis://127.0.0.1:6379', 6379],
  ['nats', 'nats://127.0.0.1:4222', 4222],
];
const available = await Promise.all(
  transports.map(async ([, , port]) => port === undefined || (await reachable(port)) || brokersRequired()),
);

describe.each(transports.filter((_, i) => available[i]))('the catalog on %s', (_, url) => {
  it('sees both services and who sends and handles each contract; a stopped one leaves', async () => {
    const run = randomBytes(3).toString('hex');
    const Charge = defineCommand(`cat${run}.charge`, z.object({ orderId: z.string() }));
    const order = createBus({ service: `order-${run}`, transport: url, logger: silentLogger });
    announce(order, { version: '1.0.0' });
    const payment = createBus({ service: `payment-${run}`, transport: url, logger: silentLogger });
    payment.endpoint(`payment-${run}`, (e) => e.on(Charge, () => undefined));
    announce(payment, { version: '2.0.0' });
    const watcher = await loadTransport(parseTransportUrl(url), { clock: systemClock, logger: silentLogger });
    await watcher.connect();
    try {
      await payment.start();
      await order.start();
      await order.send(Charge, { orderId: 'o-1' });
      const catalog = await watchCatalog(watcher);
      const ours = () => catalog.instances().filter((i) => i.service.endsWith(run));
      await catalog.until(
        () => ours().length === 2 && catalog.contracts().some((c) => c.name === Charge.name && c.sentBy.length > 0),
        20_000,
      );
      expect(ours().map((i) => [i.service, i.version, i.status])).toEqual([
        [`order-${run}`, '1.0.0', 'live'],
        [`payment-${run}`, '2.0.0', 'live'],
      ]);
      expect(catalog.contracts().find((c) => c.name === Charge.name)).toMatchObject({
        sentBy: [`order-${run}`],
        handledBy: [`payment-${run}/payment-${run}`],
      });
      await payment.stop();
      await catalog.until(() => ours().length === 1, 20_000);
      await catalog.close();
    } finally {
      await order.stop();
      await payment.stop();
      await payment.transport.deleteQueue?.(`payment-${run}`).catch(() => undefined);
      await watcher.close();
    }
  });
});
