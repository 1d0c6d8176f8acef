/**
 * The built `missive` command against Redis: it lists the queues a service declared in another
 * process (with their dead letters and topics), and lists and replays that service's dead letters.
 * The run uses its own key prefix on the shared Redis and deletes it afterwards.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBus, defineCommand, silentLogger, type Bus } from '@missive/core';
import { brokersRequired } from '@missive/testing';
import { z } from 'zod';
import { buildCli, runMissive, until } from './test-support/run-cli.js';

const server = process.env.MISSIVE_REDIS_URL ?? 'redis://127.0.0.1:6379';
const run = randomBytes(4).toString('hex');
const prefix = `missive-cli-${run}`;
const url = `${server}?prefix=${prefix}`;
const endpoint = `cli-payment-${run}`;
const Charge = defineCommand(`cli-${run}.charge`, z.object({ orderId: z.string() }));
let bus: Bus | undefined;
let healthy = false;
const charged: string[] = [];
let unavailable: string | undefined;

beforeAll(async () => {
  buildCli();
  bus = createBus({ service: 'payment', transport: url, logger: silentLogger, retry: { immediate: 0, delayed: false } });
  bus.endpoint(endpoint, (e) =>
    e.on(Charge, (cmd) => {
      if (!healthy) throw new Error(`card gateway down for ${cmd.orderId}`);
      charged.push(cmd.orderId);
    }),
  );
  try {
    await bus.start();
  } catch (error) {
    if (brokersRequired()) throw error;
    unavailable = `Redis not reachable at ${new URL(server).host} (${(error as Error).message}); set MISSIVE_REQUIRE_BROKERS=1 to fail instead`;
    bus = undefined;
    return;
  }
  for (const n of [1, 2]) await bus.send(Charge, { orderId: `o-${n}` }, { messageId: `m-${n}-${run}` });
  await until(() => bus!.stats().endpoints[endpoint]!.deadLettered === 2, 'two dead letters');
}, 120_000);

afterAll(async () => {
  if (bus === undefined) return;
  await bus.stop();
  const redis = new Redis(server);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
});

describe('missive on Redis (built command)', () => {
  it('lists the queues of a service in another process, and lists and replays its dead letters', async (ctx) => {
    if (unavailable !== undefined) return ctx.skip(unavailable);
    const queues = await runMissive(url, ['queues', '--json']);
    expect(queues.code).toBe(0);
    const listed = (JSON.parse(queues.out) as { name: string; depth: number; deadLetters: number; topics: string[] }[]).find(
      (q) => q.name === endpoint,
    );
    expect(listed).toMatchObject({ depth: 0, deadLetters: 2, topics: [Charge.name] });

    const list = await runMissive(url, ['dlq', 'list', endpoint, '--json']);
    expect(list.code).toBe(0);
    const { deadLetters: rows } = JSON.parse(list.out) as { deadLetters: { id: string; reason: string }[] };
    expect(rows.map((r) => r.id)).toEqual([`m-1-${run}`, `m-2-${run}`]);
    expect(rows[0]).toMatchObject({ reason: 'HANDLER_FAILED' });

    healthy = true;
    const replay = await runMissive(url, ['dlq', 'replay', endpoint, '--all', '--json']);
    expect(JSON.parse(replay.out)).toEqual({ replayed: 2 });
    await until(() => charged.length === 2, 'both charged after the replay');
    expect(charged.sort()).toEqual(['o-1', 'o-2']);
  }, 60_000);
});
