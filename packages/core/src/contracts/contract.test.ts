import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import type { Bus } from '../bus/bus.js';
import type { MessageContext, ReplyContext } from '../consume/context.js';
import { defineCommand, defineEvent, defineQuery, type Payload, type PayloadInput, type Reply, type ReplyInput } from './contract.js';
import type { EndpointBuilder } from '../consume/endpoint.js';
import { ConfigurationError } from '../errors.js';

const OrderPlaced = defineEvent(
  'shop.order-placed',
  z.object({ orderId: z.string(), total: z.number(), at: z.string().transform((s) => new Date(s)) }),
);
const ChargeCard = defineCommand('payment.charge-card', z.object({ orderId: z.string(), amount: z.number() }));
const GetStock = defineQuery('inventory.get-stock', z.object({ sku: z.string() }), z.object({ available: z.number().int() }));

describe('contracts', () => {
  it('infer publish, handler and reply types from the schema', () => {
    expectTypeOf<PayloadInput<typeof OrderPlaced>>().toEqualTypeOf<{ orderId: string; total: number; at: string }>();
    expectTypeOf<Payload<typeof OrderPlaced>>().toEqualTypeOf<{ orderId: string; total: number; at: Date }>();
    expectTypeOf<ReplyInput<typeof GetStock>>().toEqualTypeOf<{ available: number }>();
    expectTypeOf<Reply<typeof GetStock>>().toEqualTypeOf<{ available: number }>();
    expectTypeOf(OrderPlaced.name).toEqualTypeOf<'shop.order-placed'>();
    expectTypeOf(OrderPlaced.kind).toEqualTypeOf<'event'>();
  });

  it('type the bus and the handlers', () => {
    expectTypeOf<Bus['publish']>().toBeFunction();
    const check = (bus: Bus, e: EndpointBuilder) => {
      void bus.publish(OrderPlaced, { orderId: 'o', total: 1, at: '2026-01-01' });
      // @ts-expect-error: total must be a number
      void bus.publish(OrderPlaced, { orderId: 'o', total: '1', at: '2026-01-01' });
      // @ts-expect-error: a command is sent, not published
      void bus.publish(ChargeCard, { orderId: 'o', amount: 1 });
      void bus.send(ChargeCard, { orderId: 'o', amount: 1 });
      expectTypeOf(bus.request(GetStock, { sku: 'x' })).resolves.toEqualTypeOf<{ available: number }>();
      e.on(OrderPlaced, (order, ctx) => {
        expectTypeOf(order.at).toEqualTypeOf<Date>();
        expectTypeOf(ctx).toEqualTypeOf<MessageContext>();
      });
      e.reply(GetStock, (q, ctx) => {
        expectTypeOf(q).toEqualTypeOf<{ sku: string }>();
        expectTypeOf(ctx).toEqualTypeOf<ReplyContext<typeof GetStock>>();
        return { available: 1 };
      });
      // @ts-expect-error: the reply must match the reply schema
      e.reply(GetStock, () => ({ available: 'many' }));
      // @ts-expect-error: queries are answered with e.reply
      e.on(GetStock, () => undefined);
    };
    expect(typeof check).toBe('function');
  });

  it('check names, versions and upcaster chains when defined', () => {
    expect(() => defineEvent('bad name', z.object({}))).toThrow(ConfigurationError);
    expect(() => defineEvent('a.b', {} as never)).toThrow(/Standard Schema/);
    expect(() => defineEvent('a.b', z.object({}), { version: 0 })).toThrow(/version/);
    expect(() => defineEvent('a.b', z.object({}), { version: 3, upcast: { 1: (x: never) => x } })).toThrow(/no upcaster from version 2/);
    expect(() => defineEvent('a.b', z.object({}), { version: 2, upcast: { 2: (x: never) => x } })).toThrow(/below the current version/);
    const ok = defineEvent('a.b', z.object({ v: z.number() }), { version: 3, upcast: { 1: (x: never) => x, 2: (x: never) => x } });
    expect(ok.oldestVersion).toBe(1);
    expect([...ok.upcasters.keys()]).toEqual([1, 2]);
  });
});
