import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createBus,
  createEnvelope,
  defineCommand,
  defineEvent,
  MemoryBroker,
  silentLogger,
  UnrecoverableError,
  type Bus,
  type Transport,
} from '@missive/core';
import { announce } from '../catalog/announce.js';
import { journal, type Journal } from '../journal/journal.js';
import { SqliteJournalStore } from '../journal/sqlite-journal-store.js';
import { startDashboard, type Dashboard } from './dashboard-server.js';

const OrderPlaced = defineEvent('shop.order-placed', z.object({ orderId: z.string(), amount: z.number() }));
const ChargePayment = defineCommand('payment.charge-payment', z.object({ orderId: z.string(), amount: z.number() }));
const PaymentCharged = defineEvent('payment.payment-charged', z.object({ orderId: z.string() }));

let broker: MemoryBroker;
let transport: Transport;
let store: SqliteJournalStore;
let order: Bus;
let payment: Bus;
let journals: Journal[];
let dashboard: Dashboard;
let gatewayDown = true;
let base: string;

const get = (path: string, token = dashboard.token) => fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
const post = (path: string, body: unknown) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${dashboard.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
const json = async <T = Record<string, unknown>>(res: Response | Promise<Response>): Promise<T> => (await res).json() as Promise<T>;
/** Sends `request` as it is on a new connection; the status line of the answer (the server closes after it). */
function rawRequest(request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(dashboard.port, '127.0.0.1', () => socket.end(request));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.once('error', reject);
    socket.once('close', () => resolve(answer));
  });
}
function handled(bus: Bus, predicate: (type: string, outcome: string) => boolean): Promise<void> {
  return new Promise((resolve) => {
    const off = bus.on('handled', (e) => predicate(e.type, e.outcome) && (off(), resolve()));
  });
}

beforeAll(async () => {
  broker = new MemoryBroker();
  store = new SqliteJournalStore({ path: ':memory:' });
  order = createBus({ service: 'order', transport: broker.transport(), logger: silentLogger });
  order.endpoint('order', (e) =>
    e.on(OrderPlaced, (o, ctx) => ctx.send(ChargePayment, { orderId: o.orderId, amount: o.amount })).on(PaymentCharged, () => undefined),
  );
  payment = createBus({ service: 'payment', transport: broker.transport(), logger: silentLogger });
  payment.endpoint('payment', (e) =>
    e.on(ChargePayment, async (cmd, ctx) => {
      if (cmd.orderId === 'o-bad' && gatewayDown) throw new UnrecoverableError('gateway refused');
      await ctx.publish(PaymentCharged, { orderId: cmd.orderId });
    }),
  );
  journals = [order, payment].map((bus) => journal(bus, { store, payloads: { redact: ['amount'] }, flushMs: 10 }));
  for (const bus of [order, payment]) announce(bus, { version: '1.0.0' });
  await order.start();
  await payment.start();
  const charged = handled(order, (type) => type === PaymentCharged.name);
  const dead = handled(payment, (_, outcome) => outcome === 'dead-lettered');
  await order.publish(OrderPlaced, { orderId: 'o-1', amount: 30 });
  await order.publish(OrderPlaced, { orderId: 'o-bad', amount: 5 });
  await Promise.all([charged, dead]);
  for (const j of journals) await j.flush();
  transport = broker.transport();
  await transport.connect();
  dashboard = await startDashboard({ transport, journal: store, traceUrl: 'http://jaeger.local/trace/{traceId}' });
  base = dashboard.url.slice(0, dashboard.url.indexOf('/#'));
});

afterAll(async () => {
  await dashboard?.close();
  await order?.stop();
  await payment?.stop();
  await transport?.close();
  await store?.close();
});

describe('the dashboard API', () => {
  it('shows a dead letter whose payload is nested too deeply to serialize, raw, not as a 500', async () => {
    const queue = `deep-${Date.now()}`;
    await transport.declare({ name: queue, topics: [] });
    const envelope = createEnvelope({ id: 'm-deep-letter', type: 'deep.thing', source: '/missive/test', data: null });
    const body = new TextEncoder().encode(
      JSON.stringify(envelope).replace('"data":null', `"data":${'['.repeat(200_000) + ']'.repeat(200_000)}`),
    );
    await transport.send(queue, { id: 'm-deep-letter', type: 'deep.thing', body, headers: {} });
    const consumer = transport.consume(queue, { prefetch: 1 });
    for await (const delivery of consumer) {
      await delivery.deadLetter({
        reason: 'VALIDATION',
        errorName: 'ValidationError',
        errorMessage: 'too deep',
        attempts: 1,
        endpoint: queue,
        service: 'test',
        host: 'h',
        time: Date.now(),
      });
      break;
    }
    await consumer.close();
    try {
      const res = await get(`/api/dead-letters/${queue}/m-deep-letter`);
      expect(res.status).toBe(200);
      const shown = await json<{ type: string; envelope: { undecodable: string; raw: string } }>(res);
      expect(shown.type).toBe('deep.thing');
      expect(shown.envelope.undecodable).toBe('Maximum call stack size exceeded');
      expect(shown.envelope.raw).toMatch(/^\{"specversion":"1\.0","id":"m-deep-letter"/);
    } finally {
      await transport.deleteQueue(queue);
    }
  });

  it('tails on past a payload nested too deeply to serialize (shown as undecodable), and cuts a large one', async () => {
    const controller = new AbortController();
    const res = await fetch(`${base}/api/tail?pattern=deep.%23&token=${dashboard.token}`, { signal: controller.signal });
    const reader = res.body!.getReader();
    let text = '';
    const read = async (until: string) => {
      while (!text.includes(until)) {
        const { done, value } = await reader.read();
        if (done) throw new Error(`the tail ended before "${until}"; it sent: ${text.slice(0, 300)}`);
        text += new TextDecoder().decode(value);
      }
    };
    await read('event: ready');
    // The body is written by hand: encoding such a payload overflows the stack on this side too.
    const send = async (id: string, data: string) => {
      const envelope = createEnvelope({ id, type: 'deep.thing', source: '/missive/test', data: null });
      const body = new TextEncoder().encode(JSON.stringify(envelope).replace('"data":null', `"data":${data}`));
      await transport.publish('deep.thing', { id, type: 'deep.thing', body, headers: {} });
    };
    await send('m-deep', '['.repeat(200_000) + ']'.repeat(200_000));
    await send('m-large', JSON.stringify({ blob: 'x'.repeat(1_000_000) }));
    await send('m-after', '{"ok":true}');
    await read('m-after');
    // A large payload is cut to its first 2,000 characters: the page keeps 500 lines.
    const large = text.split('\n').find((l) => l.includes('"m-large"'))!;
    expect(large.length).toBeLessThan(3000);
    expect(large).toContain('"data":"(1000011 characters, too large for the tail; the first 2000:) {\\"blob\\":\\"xxx');
    expect(text).toContain('"id":"m-deep","undecodable":"the payload cannot be shown: Maximum call stack size exceeded"');
    controller.abort();
  });

  it('listens on 127.0.0.1 and needs the token for every API call; the page itself is public', async () => {
    expect(dashboard.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/#token=[0-9a-f]{48}$/);
    expect((await fetch(`${base}/api/services`)).status).toBe(401);
    expect((await get('/api/services', 'x'.repeat(48))).status).toBe(401);
    expect(
      (
        await fetch(`${base}/api/dead-letters/payment/purge`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"all":true,"confirm":true}',
        })
      ).status,
    ).toBe(401);
    // ?token= is for the live tail's EventSource only: never enough to read or change anything else.
    const inQuery = `token=${dashboard.token}`;
    expect((await fetch(`${base}/api/dead-letters?${inQuery}`)).status).toBe(401);
    expect(
      (
        await fetch(`${base}/api/dead-letters/payment/purge?${inQuery}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"all":true,"confirm":true}',
        })
      ).status,
    ).toBe(401);
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<script type="module" src="/app.js">');
    expect((await fetch(`${base}/../package.json`)).status).toBe(404);
  });

  it('sends nosniff, no framing and no referrer with every answer, and the page a policy without inline scripts or framing', async () => {
    const controller = new AbortController();
    const answers = [
      await fetch(`${base}/`),
      await fetch(`${base}/app.js`),
      await get('/api/overview'),
      await fetch(`${base}/api/overview`), // 401
      await get('/api/nothing'), // 404
      await fetch(`${base}/api/tail?pattern=shop.%23&token=${dashboard.token}`, { signal: controller.signal }),
    ];
    for (const res of answers) {
      expect([res.url, res.headers.get('x-content-type-options')]).toEqual([res.url, 'nosniff']);
      expect([res.url, res.headers.get('x-frame-options'), res.headers.get('referrer-policy')]).toEqual([res.url, 'DENY', 'no-referrer']);
    }
    controller.abort();
    const policy = answers[0]!.headers.get('content-security-policy') ?? '';
    expect(policy).toContain("frame-ancestors 'none'");
    expect(policy).toContain("object-src 'none'");
    expect(policy).toContain("base-uri 'none'");
    expect(policy).not.toMatch(/script-src[^;]*unsafe-inline/);
  });

  it('lists the live services and who sends and handles each contract', async () => {
    await dashboard.catalog.until(
      (c) => c.instances().length === 2 && c.contracts().some((x) => x.name === ChargePayment.name && x.sentBy.length > 0),
    );
    const { instances, contracts } = await json<{
      instances: { service: string; status: string }[];
      contracts: { name: string; sentBy: string[]; handledBy: string[] }[];
    }>(get('/api/services'));
    expect(instances.map((i) => [i.service, i.status])).toEqual([
      ['order', 'live'],
      ['payment', 'live'],
    ]);
    expect(contracts.find((c) => c.name === ChargePayment.name)).toMatchObject({ sentBy: ['order'], handledBy: ['payment/payment'] });
    const asyncapi = await json(get('/api/asyncapi?service=payment'));
    expect(asyncapi.asyncapi).toBe('3.0.0');
  });

  it('shows queues with depth, in flight and dead letters', async () => {
    const { queues, history } = await json<{ queues: { name: string; deadLetters: number }[]; history: unknown[] }>(get('/api/queues'));
    expect(queues.find((q) => q.name === 'payment')?.deadLetters).toBe(1);
    expect(history.length).toBeGreaterThan(0);
  });

  it("draws an order's conversation as a sequence diagram, with Mermaid text, timings and the trace id", async () => {
    const answer = await json<{
      svg: string;
      mermaid: string;
      sequence: { lifelines: string[]; arrows: { type: string; outcome: string }[] };
      entries: { payload?: string }[];
    }>(get('/api/conversations?q=o-bad'));
    expect(answer.sequence.lifelines).toEqual(['order', 'payment']);
    expect(answer.sequence.arrows.map((a) => [a.type, a.outcome])).toEqual([
      [OrderPlaced.name, 'handled'],
      [ChargePayment.name, 'dead-lettered'],
    ]);
    expect(answer.svg).toMatch(/^<svg /);
    expect(answer.svg).toContain('class="arrow outcome-dead-lettered"');
    expect(answer.svg).toContain('dead-lettered: UNRECOVERABLE');
    expect(answer.mermaid).toContain('sequenceDiagram');
    expect(answer.mermaid).toContain('s0--xs1: payment.charge-payment');
    expect(JSON.parse(answer.entries[0]!.payload!)).toEqual({ orderId: 'o-bad', amount: '[redacted]' });
    expect((await get('/api/conversations')).status).toBe(400);
  });

  it('lists, shows and replays a dead letter (then it is handled), with the CLI selector rules', async () => {
    const { deadLetters } = await json<{ deadLetters: { id: string; endpoint: string; reason: string; type: string }[] }>(
      get('/api/dead-letters?reason=UNRECOVERABLE'),
    );
    expect(deadLetters).toMatchObject([{ endpoint: 'payment', reason: 'UNRECOVERABLE', type: ChargePayment.name }]);
    const [letter] = deadLetters;
    expect((await json(get(`/api/dead-letters?type=nothing`))).total).toBe(0);
    const shown = await json<{ envelope: { data: unknown }; failure: { errorMessage: string } }>(
      get(`/api/dead-letters/payment/${letter!.id}`),
    );
    expect(shown.envelope.data).toEqual({ orderId: 'o-bad', amount: 5 });
    expect(shown.failure.errorMessage).toBe('gateway refused');

    expect((await post('/api/dead-letters/payment/replay', { ids: [letter!.id], reason: 'X' })).status).toBe(400);
    expect((await post('/api/dead-letters/payment/purge', { all: true })).status).toBe(400);
    expect((await post('/api/dead-letters/nowhere/replay', { all: true })).status).toBe(404);

    gatewayDown = false;
    const charged = handled(payment, (type, outcome) => type === ChargePayment.name && outcome === 'handled');
    expect(await json(post('/api/dead-letters/payment/replay', { ids: [letter!.id] }))).toEqual({ replayed: 1 });
    await charged;
    for (const j of journals) await j.flush();
    const after = await json<{ sequence: { arrows: { type: string; outcome: string; replayed: boolean }[] } }>(
      get('/api/conversations?q=o-bad'),
    );
    expect(after.sequence.arrows.filter((a) => a.type === ChargePayment.name).map((a) => [a.outcome, a.replayed])).toEqual([
      ['dead-lettered', false],
      ['handled', true],
    ]);
    expect((await json(get('/api/dead-letters'))).total).toBe(0);
  });

  it('answers a request target that is not a URL with 400, and keeps running', async () => {
    const answer = await rawRequest('GET http://[/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toContain('the request target is not a URL');
    expect((await get('/api/overview')).status).toBe(200);
  });

  it('answers a path with a malformed percent escape with 400, not 500', async () => {
    for (const path of ['/api/dead-letters/payment/%E0%A4%A', '/api/dead-letters/%ZZ/replay']) {
      const res = path.endsWith('replay') ? await post(path, { all: true }) : await get(path);
      expect(res.status).toBe(400);
      expect(await json(res)).toEqual({
        error: { name: 'HttpError', message: expect.stringContaining('is not valid percent-encoded UTF-8') },
      });
    }
  });

  it('reads the recent journal with a whole-number limit; a time or a negative number is a 400', async () => {
    expect((await json<{ entries: unknown[] }>(get('/api/journal?limit=1'))).entries).toHaveLength(1);
    for (const bad of ['1969-01-01', '-1', '1.5', 'abc']) {
      const res = await get(`/api/journal?limit=${bad}`);
      expect(res.status).toBe(400);
      expect(await json(res)).toEqual({ error: { name: 'HttpError', message: `limit must be a whole number, got "${bad}"` } });
    }
    expect((await get('/api/journal?after=2026-01-01')).status).toBe(400);
  });

  it('tails messages of a type pattern as server-sent events', async () => {
    const controller = new AbortController();
    const res = await fetch(`${base}/api/tail?pattern=shop.%23&token=${dashboard.token}`, { signal: controller.signal });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.getReader();
    let text = '';
    const read = async (until: string) => {
      while (!text.includes(until)) text += new TextDecoder().decode((await reader.read()).value);
    };
    await read('event: ready');
    await order.publish(OrderPlaced, { orderId: 'o-tail', amount: 1 });
    await read('o-tail');
    expect(text).toContain('"type":"shop.order-placed"');
    controller.abort();
  });
});
