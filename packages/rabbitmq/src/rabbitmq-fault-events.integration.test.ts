/**
 * Fault events on RabbitMQ, end to end: a message dead-lettered by one service is published as
 * `missive.fault.<type>`, and another service receives it both through `faultOf(Contract)` and
 * through a `missive.fault.#` tap. Exchange names starting `missive.` are Missive's; the fault
 * types are Missive's own message types and may use them.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createBus, defineCommand, faultOf, silentLogger, UnrecoverableError, type Fault } from '@missive/core';
import { createWaiter } from '@missive/testing';
import { cleanupAfterEach, needRabbitMq, rabbitUrl } from './test-support/broker.js';
import { RabbitMqTransport } from './rabbitmq-transport.js';

const cleanup = cleanupAfterEach();

describe('rabbitmq fault events', () => {
  it('a dead letter publishes missive.fault.<type>, received through faultOf and a missive.fault.# tap', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const run = randomBytes(4).toString('hex');
    const ChargeCard = defineCommand(`payment-${run}.charge-card`, z.object({ orderId: z.string() }));
    const FaultOfCharge = faultOf(ChargeCard);
    const queues = [`payment-${run}`, `ops-${run}`, `audit-${run}`];
    const waiter = createWaiter({ timeoutMs: 30_000 });
    const transport = () => new RabbitMqTransport({ url: rabbitUrl }, { logger: silentLogger });
    const payment = createBus({
      service: 'payment',
      transport: transport(),
      logger: silentLogger,
      faultEvents: true,
      retry: { immediate: 0, delayed: false },
    });
    const ops = createBus({ service: 'ops', transport: transport(), logger: silentLogger });
    cleanup.push(async () => {
      await payment.stop({ timeoutMs: 0 });
      await ops.stop({ timeoutMs: 0 });
      const admin = transport();
      await admin.connect();
      for (const queue of queues) await admin.deleteQueue(queue);
      await admin.deleteTopic(ChargeCard.name);
      await admin.deleteTopic(FaultOfCharge.name);
      await admin.close();
    });
    payment.endpoint(queues[0]!, (e) => e.on(ChargeCard, () => Promise.reject(new UnrecoverableError('card expired'))));
    const faults: Fault<{ orderId: string }>[] = [];
    const tapped: string[] = [];
    ops.endpoint(queues[1]!, (e) => e.on(FaultOfCharge, (fault) => void (faults.push(fault), waiter.notify())));
    ops.endpoint(queues[2]!, (e) => e.tap('missive.fault.#', (envelope) => void (tapped.push(envelope.type), waiter.notify())));
    await ops.start();
    await payment.start();
    await payment.send(ChargeCard, { orderId: 'o-1' });
    await waiter.until(() => faults.length === 1 && tapped.length === 1, 'the fault event at both endpoints');
    expect(FaultOfCharge.name).toBe(`missive.fault.${ChargeCard.name}`);
    expect(faults[0]).toMatchObject({
      message: { orderId: 'o-1' },
      messageType: ChargeCard.name,
      reason: 'UNRECOVERABLE',
      exception: { name: 'UnrecoverableError', message: 'card expired' },
      endpoint: queues[0],
      service: 'payment',
    });
    expect(tapped).toEqual([FaultOfCharge.name]);
  }, 60_000);
});
