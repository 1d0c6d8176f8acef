import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createTestHarness } from '@missive/testing';
import { defineCommand, defineEvent } from '../contracts/contract.js';
import { UnrecoverableError } from '../errors.js';
import { silentLogger } from '../logger.js';
import { handledEventOf, type HandledEvent } from './handled.js';

const ChargeCard = defineCommand('payment.charge-card', z.object({ orderId: z.string(), fail: z.enum(['no', 'once', 'always']) }));
const CardCharged = defineEvent('payment.card-charged', z.object({ orderId: z.string() }));

describe('the handled event', () => {
  it('reports each settled delivery once, with its outcome, attempt, envelope and duration', async () => {
    const h = createTestHarness();
    const bus = h.bus('payment', { logger: silentLogger, retry: { immediate: 0, delayed: { attempts: 1, initialMs: 10 } } });
    const seen = new Set<string>();
    bus.endpoint('payment', (e) =>
      e.on(ChargeCard, async (cmd, ctx) => {
        if (cmd.fail === 'always') throw new UnrecoverableError('card expired');
        if (cmd.fail === 'once' && !seen.has(cmd.orderId)) {
          seen.add(cmd.orderId);
          throw new Error('gateway down');
        }
        await ctx.publish(CardCharged, { orderId: cmd.orderId });
      }),
    );
    const events: HandledEvent[] = [];
    const heard: number[] = [];
    bus.on('handled', (event) => {
      events.push(event);
      heard.push(performance.now());
    });
    const started = performance.now();
    await bus.start();
    await bus.send(ChargeCard, { orderId: 'o-1', fail: 'no' }, { correlationId: 'order-o-1' });
    await bus.send(ChargeCard, { orderId: 'o-2', fail: 'once' });
    await bus.send(ChargeCard, { orderId: 'o-3', fail: 'always' });
    await h.until(() => events.length === 4, 'four settled deliveries');
    await h.stop();
    const of = (orderId: string) => events.filter((e) => (e.envelope?.data as { orderId: string }).orderId === orderId);
    expect(of('o-1')).toMatchObject([
      {
        service: 'payment',
        endpoint: 'payment',
        type: 'payment.charge-card',
        outcome: 'handled',
        attempt: 1,
        error: undefined,
        replayed: false,
      },
    ]);
    expect(of('o-1')[0]!.envelope!.correlationid).toBe('order-o-1');
    expect(of('o-2').map((e) => [e.outcome, e.attempt])).toEqual([
      ['retried', 1],
      ['handled', 2],
    ]);
    expect(of('o-2')[0]!.error?.message).toBe('gateway down');
    expect(of('o-3')).toMatchObject([{ outcome: 'dead-lettered', reason: 'UNRECOVERABLE', attempt: 1 }]);
    for (const event of events) expect(event.durationMs).toBeGreaterThanOrEqual(0);
    // settledAt: the monotonic end of durationMs, taken before the listener heard of it.
    events.forEach((event, i) => {
      expect(event.settledAt - event.durationMs).toBeGreaterThanOrEqual(started);
      expect(event.settledAt).toBeLessThanOrEqual(heard[i]!);
    });
  });

  it('observeHandled: the same fields positionally, with no listener too, until it stops', async () => {
    const h = createTestHarness();
    const bus = h.bus('payment', { logger: silentLogger, retry: { immediate: 0, delayed: { attempts: 1, initialMs: 10 } } });
    bus.endpoint('payment', (e) =>
      e.on(ChargeCard, (cmd) => {
        if (cmd.fail === 'always') throw new UnrecoverableError('card expired');
      }),
    );
    const observed: HandledEvent[] = [];
    const stop = bus.observeHandled((...fields) => observed.push(handledEventOf(...fields)));
    await bus.start();
    // Only the observer watches: each delivery is still reported.
    await bus.send(ChargeCard, { orderId: 'o-1', fail: 'no' });
    await h.until(() => observed.length === 1, 'the first delivery observed');
    // With a listener too, both see the same deliveries, with the same fields.
    const events: HandledEvent[] = [];
    bus.on('handled', (event) => events.push(event));
    await bus.send(ChargeCard, { orderId: 'o-2', fail: 'always' });
    await h.until(() => events.length === 1, 'the second delivery heard');
    expect(observed.slice(1)).toEqual(events);
    expect(observed.map((e) => [e.outcome, e.reason, e.type])).toEqual([
      ['handled', undefined, 'payment.charge-card'],
      ['dead-lettered', 'UNRECOVERABLE', 'payment.charge-card'],
    ]);
    stop();
    await bus.send(ChargeCard, { orderId: 'o-3', fail: 'no' });
    await h.until(() => events.length === 2, 'the third delivery heard');
    await h.stop();
    expect(observed).toHaveLength(2);
  });

  it('describe() names the endpoints, the contracts they handle, and the contracts sent so far', async () => {
    const h = createTestHarness();
    const bus = h.bus('payment', { logger: silentLogger });
    bus.endpoint('payment', (e) => e.on(ChargeCard, (cmd, ctx) => ctx.publish(CardCharged, { orderId: cmd.orderId })));
    expect(bus.describe()).toMatchObject({ service: 'payment', endpoints: [{ name: 'payment', handles: [ChargeCard] }], sends: [] });
    await bus.start();
    await bus.send(ChargeCard, { orderId: 'o-1', fail: 'no' });
    await h.until(() => h.published.some((m) => m.type === CardCharged.name), 'the event');
    await h.stop();
    expect(
      bus
        .describe()
        .sends.map((c) => c.name)
        .sort(),
    ).toEqual([CardCharged.name, ChargeCard.name]);
  });
});
