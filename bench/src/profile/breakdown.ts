/**
 * Where Missive's per-message time goes on the memory transport. Each step of the path is timed
 * alone in a tight loop on the benchmark's payload (schema check, envelope, encode, decode), the
 * memory transport is timed alone (publish, deliver, ack of a ready-made message), and the whole
 * bus path is timed end to end; what the parts do not explain is the bus's own pipeline and runtime
 * (promises, middleware, contexts, bookkeeping).
 *
 * Run alone: `node bench/dist/profile/breakdown.js` (prints JSON). For a CPU profile of the same
 * path: `node --cpu-prof --cpu-prof-dir=/tmp/prof bench/dist/profile/memory-path.js` then
 * `node bench/dist/profile/summarize.js /tmp/prof/*.cpuprofile`.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import sjson from 'secure-json-parse';
import { createEnvelope, jsonCodec, MemoryBroker, validate, type TransportMessage } from '@missive/core';
import { Timestamps } from '@missive/core/transport';
import { makeOrder, orderSchema, ORDER_TOPIC } from '../harness/payload.js';
import { publishBounded, publishWindowed, Tally } from '../harness/roles.js';
import { createPair } from '../subjects/missive-memory.js';
import { nowUs } from '../harness/time.js';

export interface Step {
  readonly step: string;
  /** Nanoseconds per message. */
  readonly ns: number;
  /** How many times the step runs per message on the bus path. */
  readonly perMessage: number;
  readonly note: string;
}

export interface Breakdown {
  readonly steps: Step[];
  /** End-to-end ns per message on the bus (publish to handler, windowed, one process). */
  readonly busNs: number;
  readonly busNoOutgoingValidationNs: number;
  readonly transportNs: number;
  readonly bareNs: number;
}

let sink: unknown;

/** ns per call of `fn`, best of 5 batches after a warm-up. */
function time(fn: (i: number) => unknown, iterations: number): number {
  for (let i = 0; i < iterations / 5; i++) sink = fn(i);
  let best = Number.POSITIVE_INFINITY;
  for (let batch = 0; batch < 5; batch++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) sink = fn(i);
    best = Math.min(best, Number(process.hrtime.bigint() - start) / iterations);
  }
  return best;
}

/** The fastest of four batches of `count` messages through `pair`, in ns per message (first publish to last handled). */
async function bestOfBatches(pair: Parameters<typeof publishBounded>[0], tally: Tally, count: number): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  let handled = 0;
  for (let batch = 0; batch < 4; batch++) {
    const t0 = nowUs();
    await publishBounded(pair, tally, count, 100, 't');
    handled += count;
    await tally.reach('t', handled, 30_000);
    best = Math.min(best, ((tally.lastAt.t - t0) * 1000) / count);
  }
  return best;
}

async function busNs(count: number, validateOutgoing: boolean): Promise<number> {
  const tally = new Tally();
  const pair = await createPair(
    { name: `breakdown-${randomUUID().slice(0, 8)}`, prefetch: 16, concurrency: 8, validateOutgoing },
    tally.onMessage,
  );
  const best = await bestOfBatches(pair, tally, count);
  await pair.close();
  return best;
}

async function transportNs(count: number): Promise<number> {
  const transport = new MemoryBroker().transport();
  await transport.connect();
  await transport.declare({ name: 'q', topics: [ORDER_TOPIC] });
  const consumer = transport.consume('q', { prefetch: 16 });
  const envelope = createEnvelope({ type: ORDER_TOPIC, source: '/missive/bench', data: makeOrder(1, 't') });
  const message: TransportMessage = { id: envelope.id, type: envelope.type, body: jsonCodec().encode(envelope), headers: {} };
  let received = 0;
  let target = 0;
  let wake: (() => void) | undefined;
  const loop = (async () => {
    for await (const delivery of consumer) {
      void delivery.ack();
      if (++received >= target && wake !== undefined) {
        const w = wake;
        wake = undefined;
        w();
      }
    }
  })();
  const publisher = { publish: () => transport.publish(ORDER_TOPIC, message), close: async () => undefined };
  let best = Number.POSITIVE_INFINITY;
  for (let batch = 0; batch < 4; batch++) {
    const t0 = nowUs();
    for (let sent = 0; sent < count; sent += 100) {
      target += 100;
      const done = new Promise<void>((resolve) => (wake = resolve));
      await publishWindowed(publisher, 100, 100, 't');
      await done;
    }
    best = Math.min(best, ((nowUs() - t0) * 1000) / count);
  }
  await transport.close();
  await loop;
  return best;
}

async function bareNs(count: number): Promise<number> {
  const { createPair: bare } = await import('../subjects/bare-handoff.js');
  const tally = new Tally();
  const pair = await bare({ name: 'bare', prefetch: 16, concurrency: 8 }, tally.onMessage);
  return bestOfBatches(pair, tally, count);
}

export async function breakdown(args: { quick?: boolean } = {}): Promise<Breakdown> {
  const n = args.quick === true ? 20_000 : 100_000;
  const codec = jsonCodec();
  const order = makeOrder(1, 't');
  const timestamps = new Timestamps();
  const envelope = createEnvelope({ type: ORDER_TOPIC, source: '/missive/bench', data: order });
  const bytes = codec.encode(envelope);
  const text = Buffer.from(bytes).toString('utf8');
  const steps: Step[] = [
    {
      step: 'schema check (zod, via Standard Schema)',
      ns: time(() => validate(orderSchema, ORDER_TOPIC, order), n),
      perMessage: 2,
      note: 'once on publish (validateOutgoing), once on receipt',
    },
    {
      step: 'createEnvelope (uuid + RFC 3339 time)',
      ns: time(() => createEnvelope({ type: ORDER_TOPIC, source: '/missive/bench', data: order, time: timestamps.format(Date.now()) }), n),
      perMessage: 1,
      note: 'as the bus builds it',
    },
    { step: '  of which randomUUID()', ns: time(() => randomUUID(), n), perMessage: 1, note: 'node:crypto, pooled' },
    {
      step: '  of which Timestamps.format(Date.now())',
      ns: time(() => timestamps.format(Date.now()), n),
      perMessage: 1,
      note: 'toISOString once per second',
    },
    {
      step: '  new Date().toISOString(), for comparison',
      ns: time(() => new Date().toISOString(), n),
      perMessage: 0,
      note: 'not on the path',
    },
    {
      step: 'encode (JSON.stringify + Buffer.from)',
      ns: time(() => codec.encode(envelope), n),
      perMessage: 1,
      note: `${bytes.byteLength} bytes`,
    },
    { step: 'decode (secure-json-parse + envelope check)', ns: time(() => codec.decode(bytes), n), perMessage: 1, note: '' },
    {
      step: '  of which secure-json-parse',
      ns: time(() => sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }), n),
      perMessage: 1,
      note: '',
    },
    { step: '  plain JSON.parse, for comparison', ns: time(() => JSON.parse(text) as unknown, n), perMessage: 0, note: 'not on the path' },
  ];
  void sink;
  const count = args.quick === true ? 20_000 : 100_000;
  const transport = await transportNs(count);
  const bus = await busNs(count, true);
  const busNoOut = await busNs(count, false);
  const bare = await bareNs(count);
  return { steps, busNs: bus, busNoOutgoingValidationNs: busNoOut, transportNs: transport, bareNs: bare };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await breakdown({ quick: process.argv.includes('--quick') }), null, 2));
}
