import { Parser } from '@asyncapi/parser';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createBus,
  createEnvelope,
  defineCommand,
  defineEvent,
  defineQuery,
  jsonCodec,
  MemoryBroker,
  silentLogger,
  type HealthReport,
} from '@missive/core';
import { asyncApiOf } from '../asyncapi.js';
import { announce } from './announce.js';
import { Catalog, watchCatalog } from './catalog.js';
import { ANNOUNCED, announcementOf, type Announcement } from './announcement.js';

const OrderPlaced = defineEvent('shop.order-placed', z.object({ orderId: z.string(), total: z.number() }), {
  description: 'An order was accepted',
});
const ChargeCard = defineCommand('payment.charge-card', z.object({ orderId: z.string(), amount: z.number() }));
const GetBalance = defineQuery('payment.get-balance', z.object({ account: z.string() }), z.object({ balance: z.number() }));

function services(broker: MemoryBroker) {
  const order = createBus({ service: 'order', transport: broker.transport(), logger: silentLogger });
  order.endpoint('order', (e) => e.on(OrderPlaced, (o, ctx) => ctx.send(ChargeCard, { orderId: o.orderId, amount: o.total })));
  announce(order, { version: '1.2.0' });
  const payment = createBus({ service: 'payment', transport: broker.transport(), logger: silentLogger });
  payment.endpoint('payment', (e) => e.on(ChargeCard, () => undefined).reply(GetBalance, () => ({ balance: 3 })));
  announce(payment, { version: '2.0.0' });
  return { order, payment };
}

describe('the service catalog', () => {
  it('lists live instances, who sends and who handles each contract with its JSON Schema; a stopped instance leaves', async () => {
    const broker = new MemoryBroker();
    const watcher = broker.transport();
    await watcher.connect();
    const { order, payment } = services(broker);
    await order.start();
    await payment.start();
    const catalog = await watchCatalog(watcher); // its ping makes both announce again at once
    await catalog.until((c) => c.instances().length === 2);
    expect(catalog.instances().map((i) => [i.service, i.version, i.status, i.instance])).toEqual([
      ['order', '1.2.0', 'live', order.instanceId],
      ['payment', '2.0.0', 'live', payment.instanceId],
    ]);
    expect(catalog.instances().map((i) => i.health)).toEqual([
      { ready: true, reasons: [] },
      { ready: true, reasons: [] },
    ]);
    await order.publish(OrderPlaced, { orderId: 'o-1', total: 30 });
    await catalog.ping();
    await catalog.until((c) => c.contracts().some((x) => x.name === ChargeCard.name && x.sentBy.includes('order')));
    const contracts = Object.fromEntries(catalog.contracts().map((c) => [c.name, c]));
    expect(contracts[ChargeCard.name]).toMatchObject({ kind: 'command', sentBy: ['order'], handledBy: ['payment/payment'] });
    expect(contracts[OrderPlaced.name]).toMatchObject({
      kind: 'event',
      sentBy: ['order'],
      handledBy: ['order/order'],
      description: 'An order was accepted',
    });
    expect(contracts[ChargeCard.name]!.schema).toMatchObject({
      type: 'object',
      properties: { orderId: { type: 'string' }, amount: { type: 'number' } },
    });
    expect(contracts[GetBalance.name]!.replySchema).toMatchObject({ properties: { balance: { type: 'number' } } });

    await payment.stop();
    await catalog.until((c) => c.instances().length === 1);
    expect(catalog.instances()[0]!.service).toBe('order');
    await order.stop();
    await catalog.close();
    await watcher.close();
  });

  it("announces the bus's health: ready, or why not; the lifecycle stays in the announcement's state", () => {
    const description = createBus({ service: 's', transport: new MemoryBroker().transport(), logger: silentLogger }).describe();
    const endpoint = { running: false, ready: false, circuit: 'closed' as const, inFlight: 0, stoppedBecause: 'stream broke' };
    const starting = { live: true, state: 'starting' as const, transport: { connected: true }, outbox: undefined };
    const health: HealthReport = {
      ...starting,
      ready: false,
      reasons: ['bus is starting', 'endpoint orders: consumer stopped (stream broke)'],
      endpoints: { orders: endpoint },
    };
    const options = { version: undefined, intervalMs: 1000, at: 0, startedAt: 0, health };
    expect(announcementOf(description, { ...options, state: 'started' }).health).toEqual({
      ready: false,
      reasons: ['endpoint orders: consumer stopped (stream broke)'],
    });
    const fine: HealthReport = { ...starting, ready: false, reasons: ['bus is starting'], endpoints: {} };
    expect(announcementOf(description, { ...options, state: 'started', health: fine }).health).toEqual({ ready: true, reasons: [] });
    expect(announcementOf(description, { ...options, state: 'stopped' }).health).toBeUndefined();
  });

  it('takes in only what has the shape of an announcement: forged messages on its topic change nothing', async () => {
    const broker = new MemoryBroker();
    const watcher = broker.transport();
    await watcher.connect();
    const catalog = await watchCatalog(watcher);
    const shaped = {
      service: 'ghost',
      instance: 'g-1',
      host: 'h',
      pid: 1,
      version: '1',
      state: 'started',
      intervalMs: 5000,
      at: 1,
      startedAt: 1,
      endpoints: [],
      sends: [],
    };
    const forged: unknown[] = [
      'not an object',
      { service: 'ghost', instance: 'g-2' }, // no endpoints: contracts() threw on it
      { ...shaped, instance: 'g-3', intervalMs: 'x' }, // never stale
      { ...shaped, instance: 'g-4', health: { ready: false } }, // no reasons: the page's join() threw
      { ...shaped, instance: 'g-5', endpoints: [{ name: 'e', topics: [], handles: [{ name: 'x' }] }] },
      { ...shaped, instance: 'g-6', sends: null },
    ];
    const publisher = broker.transport();
    await publisher.connect();
    for (const data of forged) {
      const envelope = createEnvelope({ type: ANNOUNCED, source: '/missive/forger', data });
      await publisher.publish(ANNOUNCED, { id: envelope.id, type: ANNOUNCED, body: jsonCodec().encode(envelope), headers: {} });
    }
    const { order } = services(broker);
    await order.start();
    await catalog.until((c) => c.instances().some((i) => i.service === 'order'));
    expect(catalog.instances().map((i) => i.service)).toEqual(['order']);
    expect(catalog.contracts().map((c) => c.name)).toContain(OrderPlaced.name);
    await order.stop();
    await catalog.close();
    await publisher.close();
    await watcher.close();
  });

  it('counts an instance stale after three missed heartbeats', () => {
    let now = 0;
    const catalog = new Catalog(() => now);
    const announcement: Announcement = {
      service: 's',
      instance: 'i',
      host: 'h',
      pid: 1,
      version: undefined,
      state: 'started',
      intervalMs: 1000,
      at: 0,
      startedAt: 0,
      endpoints: [],
      sends: [],
    };
    catalog.receive(announcement);
    now = 3000;
    expect(catalog.instances()[0]!.status).toBe('live');
    now = 3001;
    expect(catalog.instances()[0]!.status).toBe('stale');
    catalog.receive({ ...announcement, state: 'heartbeat' });
    expect(catalog.instances()[0]!.status).toBe('live');
  });

  // The official parser (Spectral's rules) took 38–48 s here at a load average of 30–35, past the default 30 s.
  it('writes an AsyncAPI 3 document the official parser validates, of the catalog or of one service', { timeout: 90_000 }, async () => {
    const broker = new MemoryBroker();
    const watcher = broker.transport();
    await watcher.connect();
    const { order, payment } = services(broker);
    await order.start();
    await payment.start();
    await order.publish(OrderPlaced, { orderId: 'o-1', total: 30 });
    const catalog = await watchCatalog(watcher);
    await catalog.until(
      (c) => c.instances().length === 2 && c.contracts().some((x) => x.name === ChargeCard.name && x.sentBy.includes('order')),
    );
    // Both documents from one snapshot: parsing is slow on a loaded machine, long enough for instances to go stale meanwhile.
    const whole = asyncApiOf(catalog.instances(), { title: 'shop' });
    const one = asyncApiOf(catalog.instances(), { service: 'payment' });
    const parser = new Parser();
    for (const doc of [whole, one]) {
      const { document, diagnostics } = await parser.parse(JSON.stringify(doc));
      expect(diagnostics.filter((d) => Number(d.severity) === 0 /* Spectral's DiagnosticSeverity.Error */)).toEqual([]);
      expect(document).toBeDefined();
    }
    expect(Object.keys(whole.operations as object).sort()).toEqual([
      'order.receive.shop.order-placed.order',
      'order.send.payment.charge-card',
      'order.send.shop.order-placed',
      'payment.receive.payment.charge-card.payment',
      'payment.receive.payment.get-balance.payment',
    ]);
    expect(Object.keys(one.channels as object).sort()).toEqual(['payment.charge-card', 'payment.get-balance']);
    expect(one.info).toMatchObject({ title: 'payment', version: '2.0.0' });
    await order.stop();
    await payment.stop();
    await catalog.close();
    await watcher.close();
  });
});
