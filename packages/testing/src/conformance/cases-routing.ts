/**
 * Routing cases: replies find their requester (typed, timing out naming the query, failing with
 * the remote error), a command nobody handles is refused as unroutable, and a message no handler
 * can take (invalid payload, unknown type, undecodable body) is dead-lettered with its reason
 * while the others flow; an envelope written in the full format of before the lean wire form is read.
 *
 * @example
 * ```ts
 * routingCases(test);
 * ```
 * @module
 */
import { expect } from 'vitest';
import { z } from 'zod';
import { UnroutableError } from '@missive/core';
import { gate, type CaseRegistrar } from './case.js';

const Num = z.object({ n: z.number().int() });

/** Registers the routing cases. */
export function routingCases(test: CaseRegistrar): void {
  test('request/reply returns the typed reply and times out naming the query', async (env) => {
    const GetStock = env.query('get-stock', z.object({ sku: z.string() }), z.object({ available: z.number() }));
    const Never = env.query('never', z.object({}), z.object({ ok: z.boolean() }));
    const server = env.bus('inventory');
    server.endpoint(env.name('inventory'), (e) => e.reply(GetStock, (q) => ({ available: q.sku.length * 10 })));
    await server.start();
    const client = env.bus('client');
    await client.start();
    const replies = await Promise.all(['a', 'bb', 'ccc'].map((sku) => client.request(GetStock, { sku })));
    expect(replies).toEqual([{ available: 10 }, { available: 20 }, { available: 30 }]);
    const silent = env.bus('silent');
    const hold = gate();
    silent.endpoint(env.name('silent'), (e) =>
      e.reply(Never, async () => {
        await hold.promise;
        return { ok: true };
      }),
    );
    await silent.start();
    const pending = client.request(Never, {}, { timeoutMs: 150 }).then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    let error: Error | undefined;
    void pending.then((e) => (error = e));
    await env.until(() => error !== undefined, 'the request to time out');
    expect(error?.name).toBe('RequestTimeoutError');
    expect(error?.message).toContain(Never.name);
    expect(error?.message).toContain('150 ms');
    hold.open();
  });

  test('a failing responder fails the request at once with the remote error', async (env) => {
    const Q = env.query('broken', z.object({ x: z.number() }), z.object({ y: z.number() }));
    const server = env.bus('broken-server');
    server.endpoint(env.name('broken'), (e) =>
      e.reply(Q, () => {
        throw new Error('database is gone');
      }),
    );
    await server.start();
    const client = env.bus('broken-client');
    await client.start();
    const error = await client.request(Q, { x: 1 }, { timeoutMs: 10_000 }).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toBe('RemoteHandlerError');
    expect((error as Error).message).toContain('database is gone');
  });

  test('a command nobody handles is refused as unroutable', async (env) => {
    const Lost = env.command('lost', Num);
    const bus = env.bus('lonely');
    await bus.start();
    await expect(bus.send(Lost, { n: 1 })).rejects.toBeInstanceOf(UnroutableError);
  });

  test('an envelope written in full, as before the lean wire form, is handled as written', async (env) => {
    const Good = env.event('full-format', Num);
    const endpoint = env.name('full-format');
    const bus = env.bus('full-format');
    const got: { n: number; correlationId: string; version: number; kind: string }[] = [];
    bus.endpoint(endpoint, (e) =>
      e.on(
        Good,
        (m, ctx) =>
          void got.push({ n: m.n, correlationId: ctx.correlationId, version: ctx.envelope.dataversion, kind: ctx.envelope.messagekind }),
      ),
    );
    await bus.start();
    const raw = await env.transport();
    // Byte for byte what the JSON codec wrote before 2026-11-30: every attribute, defaults included.
    const body = Buffer.from(
      `{"specversion":"1.0","id":"full-1","type":"${Good.name}","source":"/missive/old","time":"2026-11-29T23:00:00.000Z",` +
        `"datacontenttype":"application/json","messagekind":"event","dataversion":1,"correlationid":"corr-old",` +
        `"conversationid":"corr-old","data":{"n":41}}`,
    );
    await raw.send(endpoint, { id: 'full-1', type: Good.name, body, headers: {} });
    await env.until(() => got.length === 1, 'the message in the full format');
    expect(got).toEqual([{ n: 41, correlationId: 'corr-old', version: 1, kind: 'event' }]);
  });

  test('an invalid payload and an unknown type are dead-lettered with the reason, others flow', async (env) => {
    const Good = env.event('good', Num);
    const endpoint = env.name('strict');
    const bus = env.bus('strict');
    const got: number[] = [];
    bus.endpoint(endpoint, (e) => e.on(Good, (m) => void got.push(m.n)));
    await bus.start();
    const raw = await env.transport();
    const encode = (type: string, data: unknown, id: string) =>
      Buffer.from(
        JSON.stringify({
          specversion: '1.0',
          id,
          type,
          source: '/test',
          time: new Date().toISOString(),
          datacontenttype: 'application/json',
          messagekind: 'event',
          dataversion: 1,
          correlationid: id,
          conversationid: id,
          data,
        }),
      );
    await raw.send(endpoint, {
      id: 'bad-payload',
      type: Good.name,
      body: encode(Good.name, { n: 'not a number' }, 'bad-payload'),
      headers: {},
    });
    await raw.send(endpoint, { id: 'unknown-type', type: 'nobody.knows', body: encode('nobody.knows', {}, 'unknown-type'), headers: {} });
    await raw.send(endpoint, { id: 'not-json', type: 'x', body: Buffer.from('{"oops'), headers: {} });
    await raw.send(endpoint, {
      id: 'proto',
      type: Good.name,
      body: Buffer.from(
        `{"specversion":"1.0","id":"proto","type":"${Good.name}","source":"/t","data":{"n":1,"__proto__":{"polluted":true}}}`,
      ),
      headers: {},
    });
    await bus.publish(Good, { n: 7 });
    await env.until(() => got.length === 1, 'the good message');
    let letters = await bus.deadLetters.list(endpoint);
    await env.until(() => bus.stats().endpoints[endpoint]!.deadLettered === 4, 'four dead letters');
    letters = await bus.deadLetters.list(endpoint);
    const reasons = Object.fromEntries(letters.map((l) => [l.message.id, l.failure.reason]));
    expect(reasons).toEqual({ 'bad-payload': 'VALIDATION', 'unknown-type': 'UNKNOWN_MESSAGE_TYPE', 'not-json': 'DECODE', proto: 'DECODE' });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const bad = letters.find((l) => l.message.id === 'bad-payload')!;
    expect(bad.failure.errorMessage).toContain('n');
    expect(bad.failure.endpoint).toBe(endpoint);
    expect(bad.failure.service).toBe('strict');
    expect(bad.failure.attempts).toBe(1);
    expect(got).toEqual([7]);
  });
}
