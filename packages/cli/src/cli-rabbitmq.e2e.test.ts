/**
 * The built `missive` command against RabbitMQ: it lists the queues a service declared in another
 * process (AMQP has no list; the transport's queue registry gives them), and lists and replays that
 * service's dead letters.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBus, defineCommand, silentLogger, type Bus } from '@missive/core';
import { brokersRequired } from '@missive/testing';
import { z } from 'zod';
import { buildCli, runMissive, until } from './test-support/run-cli.js';

const url = process.env.MISSIVE_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const run = randomBytes(4).toString('hex');
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
    unavailable = `RabbitMQ not reachable at ${new URL(url).host} (${(error as Error).message}); set MISSIVE_REQUIRE_BROKERS=1 to fail instead`;
    bus = undefined;
    return;
  }
  for (const n of [1, 2]) await bus.send(Charge, { orderId: `o-${n}` }, { messageId: `m-${n}-${run}` });
  await until(() => bus!.stats().endpoints[endpoint]!.deadLettered === 2, 'two dead letters');
}, 120_000);

afterAll(async () => {
  if (bus === undefined) return;
  await bus.transport.deleteQueue(endpoint);
  await bus.transport.deleteTopic?.(Charge.name);
  await bus.stop();
});

describe('missive on RabbitMQ (built command)', () => {
  it('lists the queues of a service in another process, and lists and replays its dead letters', async (ctx) => {
    if (unavailable !== undefined) return ctx.skip(unavailable);
    const queues = await runMissive(url, ['queues', '--json']);
    expect(queues.code).toBe(0);
    const listed = (JSON.parse(queues.out) as { name: string; deadLetters: number; topics: string[] }[]).find((q) => q.name === endpoint);
    expect(listed).toMatchObject({ deadLetters: 2, topics: [Charge.name], owns: [Charge.name], consumers: 1, stale: false });
    const commands = await runMissive(url, ['commands', '--json']);
    expect((JSON.parse(commands.out) as { type: string; owner: string }[]).find((c) => c.type === Charge.name)).toMatchObject({
      owner: endpoint,
      service: 'payment',
    });

    const list = await runMissive(url, ['dlq', 'list', endpoint, '--json']);
    expect(list.code).toBe(0);
    const { total, deadLetters: rows } = JSON.parse(list.out) as { total: number; deadLetters: { id: string; reason: string }[] };
    expect(total).toBe(2);
    expect(rows.map((r) => r.id)).toEqual([`m-1-${run}`, `m-2-${run}`]);
    expect(rows[0]).toMatchObject({ reason: 'HANDLER_FAILED' });

    healthy = true;
    const replay = await runMissive(url, ['dlq', 'replay', endpoint, '--all', '--json']);
    expect(JSON.parse(replay.out)).toEqual({ replayed: 2 });
    await until(() => charged.length === 2, 'both charged after the replay');
    expect(charged.sort()).toEqual(['o-1', 'o-2']);
  }, 60_000);
});
