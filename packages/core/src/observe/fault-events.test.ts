import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createTestHarness } from '@missive/testing';
import { defineCommand } from '../contracts/contract.js';
import { UnrecoverableError } from '../errors.js';
import { silentLogger } from '../logger.js';
import { faultOf, type Fault } from './fault-events.js';

const ChargeCard = defineCommand('payment.charge-card', z.object({ orderId: z.string(), amount: z.number() }));

describe('fault events', () => {
  it('a dead-lettered message publishes a typed fault event in its conversation, which another service handles', async () => {
    const h = createTestHarness();
    const payment = h.bus('payment', { faultEvents: true, logger: silentLogger });
    const ops = h.bus('ops', { logger: silentLogger });
    payment.endpoint('payment', (e) => e.on(ChargeCard, () => Promise.reject(new UnrecoverableError('card expired'))));
    const faults: { fault: Fault<{ orderId: string; amount: number }>; correlationId: string; causationId: string | undefined }[] = [];
    ops.endpoint('ops', (e) =>
      e.on(faultOf(ChargeCard), (fault, ctx) => {
        const orderId: string = fault.message.orderId; // typed from the contract
        expect(orderId).toBe('o-1');
        faults.push({ fault, correlationId: ctx.correlationId, causationId: ctx.causationId });
      }),
    );
    await payment.start();
    await ops.start();
    await payment.send(ChargeCard, { orderId: 'o-1', amount: 30 }, { correlationId: 'order-o-1' });
    await h.until(() => faults.length === 1, 'the fault event');
    await h.stop();
    const sent = h.published.find((m) => m.type === ChargeCard.name)!;
    expect(faults[0]).toMatchObject({
      correlationId: 'order-o-1',
      causationId: sent.id,
      fault: {
        message: { orderId: 'o-1', amount: 30 },
        messageId: sent.id,
        messageType: 'payment.charge-card',
        reason: 'UNRECOVERABLE',
        exception: { name: 'UnrecoverableError', message: 'card expired' },
        attempts: 1,
        endpoint: 'payment',
        service: 'payment',
      },
    });
    expect(h.published.find((m) => m.type === 'missive.fault.payment.charge-card')?.messagekind).toBe('event');
  });

  it('is opt-in: without faultEvents a dead letter publishes nothing', async () => {
    const h = createTestHarness();
    const payment = h.bus('payment', { logger: silentLogger });
    payment.endpoint('payment', (e) => e.on(ChargeCard, () => Promise.reject(new UnrecoverableError('card expired'))));
    await payment.start();
    await payment.send(ChargeCard, { orderId: 'o-1', amount: 30 });
    await h.until(() => h.deadLettered.length === 1, 'the dead letter');
    await h.idle();
    await h.stop();
    expect(h.published.map((m) => m.type)).toEqual(['payment.charge-card']);
  });
});
