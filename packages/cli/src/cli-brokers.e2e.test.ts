/**
 * The built `missive` command against each broker: it lists the queues a service declared in another
 * process (with the commands each owns and its consumers), names the owner of a command, and lists
 * and replays that service's dead letters. One case per transport; each run isolates itself (a
 * schema, a key prefix, a stream prefix, or queue names of its own) and removes what it made.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBus, defineCommand, silentLogger, type Bus } from '@missive/core';
import { brokersRequired } from '@missive/testing';
import { Redis } from 'ioredis';
import { connect as natsConnect } from 'nats';
import pg from 'pg';
import { z } from 'zod';
import { buildCli, runMissive, until } from './test-support/run-cli.js';

/** One broker: the URL a run uses and how to remove what the run left there. */
interface Target {
  readonly name: string;
  /** The broker's address, for the skip message (no credentials). */
  readonly server: string;
  /** The run's URL: the broker plus the run's isolation (schema, prefix). */
  readonly url: string;
  /** Removes what the run made, after its bus stopped. */
  cleanup(bus: Bus, commandType: string, endpoint: string): Promise<void>;
}

function withParam(base: string, key: string, value: string): string {
  return `${base}${base.includes('?') ? '&' : '?'}${key}=${value}`;
}

function targets(run: string): Target[] {
  const postgres = process.env.MISSIVE_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const rabbitmq = process.env.MISSIVE_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
  const redis = process.env.MISSIVE_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const nats = process.env.MISSIVE_NATS_URL ?? 'nats://127.0.0.1:4222';
  const schema = `t_cli_${run}`;
  const redisPrefix = `missive-cli-${run}`;
  const natsPrefix = `tcli${run}`;
  return [
    {
      name: 'PostgreSQL',
      server: new URL(postgres).host,
      url: withParam(postgres, 'schema', schema),
      async cleanup() {
        const client = new pg.Client({ connectionString: postgres });
        await client.connect();
        await client.query(`drop schema if exists "${schema}" cascade`);
        await client.end();
      },
    },
    {
      name: 'RabbitMQ',
      server: new URL(rabbitmq).host,
      url: rabbitmq,
      // Queues and exchanges are named by the run; the transport removes them (the bus is stopped, its connection is not needed).
      async cleanup(_bus, commandType, endpoint) {
        const admin = createBus({ service: 'cli-cleanup', transport: rabbitmq, logger: silentLogger });
        await admin.start();
        await admin.transport.deleteQueue(endpoint);
        await admin.transport.deleteTopic?.(commandType);
        await admin.stop();
      },
    },
    {
      name: 'Redis',
      server: new URL(redis).host,
      url: withParam(redis, 'prefix', redisPrefix),
      async cleanup() {
        const client = new Redis(redis);
        try {
          let cursor = '0';
          do {
            const [next, keys] = await client.scan(cursor, 'MATCH', `${redisPrefix}:*`, 'COUNT', 500);
            cursor = next;
            if (keys.length > 0) await client.del(...keys);
          } while (cursor !== '0');
        } finally {
          client.disconnect();
        }
      },
    },
    {
      name: 'NATS JetStream',
      server: new URL(nats).host,
      url: withParam(nats, 'prefix', natsPrefix),
      // Every stream and key-value bucket of the run's prefix (upper-cased by the transport).
      async cleanup() {
        const parsed = new URL(nats);
        const prefix = `${natsPrefix.toUpperCase()}_`;
        const nc = await natsConnect({ servers: `${parsed.hostname}:${parsed.port || 4222}`, maxReconnectAttempts: 0 });
        try {
          const jsm = await nc.jetstreamManager();
          for await (const info of jsm.streams.list()) {
            if (info.config.name.startsWith(prefix) || info.config.name.startsWith(`KV_${prefix}`))
              await jsm.streams.delete(info.config.name);
          }
        } finally {
          await nc.close();
        }
      },
    },
  ];
}

const run = randomBytes(4).toString('hex');

beforeAll(() => buildCli(), 120_000);

describe.each(targets(run))('missive on $name (built command)', (target) => {
  const endpoint = `cli-payment-${run}`;
  const Charge = defineCommand(`cli-${run}.charge`, z.object({ orderId: z.string() }));
  let bus: Bus | undefined;
  let healthy = false;
  const charged: string[] = [];
  let unavailable: string | undefined;

  beforeAll(async () => {
    bus = createBus({ service: 'payment', transport: target.url, logger: silentLogger, retry: { immediate: 0, delayed: false } });
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
      unavailable = `${target.name} not reachable at ${target.server} (${(error as Error).message}); set MISSIVE_REQUIRE_BROKERS=1 to fail instead`;
      bus = undefined;
      return;
    }
    for (const n of [1, 2]) await bus.send(Charge, { orderId: `o-${n}` }, { messageId: `m-${n}-${run}` });
    await until(() => bus!.stats().endpoints[endpoint]!.deadLettered === 2, 'two dead letters');
  }, 120_000);

  afterAll(async () => {
    if (bus === undefined) return;
    await bus.stop();
    await target.cleanup(bus, Charge.name, endpoint);
  }, 60_000);

  it('lists the queues of a service in another process, names the command owner, and lists and replays its dead letters', async (ctx) => {
    if (unavailable !== undefined) return ctx.skip(unavailable);
    const queues = await runMissive(target.url, ['queues', '--json']);
    expect(queues.code).toBe(0);
    const listed = (JSON.parse(queues.out) as { name: string }[]).find((q) => q.name === endpoint);
    // The endpoint owns its command and has one consumer (the bus in this process).
    expect(listed).toMatchObject({ deadLetters: 2, topics: [Charge.name], owns: [Charge.name], consumers: 1, stale: false });

    const commands = await runMissive(target.url, ['commands', '--json']);
    expect(commands.code).toBe(0);
    expect((JSON.parse(commands.out) as { type: string }[]).find((c) => c.type === Charge.name)).toMatchObject({
      owner: endpoint,
      service: 'payment',
    });

    const list = await runMissive(target.url, ['dlq', 'list', endpoint, '--json']);
    expect(list.code).toBe(0);
    const { total, deadLetters: rows } = JSON.parse(list.out) as { total: number; deadLetters: { id: string; reason: string }[] };
    expect(total).toBe(2);
    expect(rows.map((r) => r.id)).toEqual([`m-1-${run}`, `m-2-${run}`]);
    expect(rows[0]).toMatchObject({ reason: 'HANDLER_FAILED' });

    healthy = true;
    const replay = await runMissive(target.url, ['dlq', 'replay', endpoint, '--all', '--json']);
    expect(JSON.parse(replay.out)).toEqual({ replayed: 2 });
    await until(() => charged.length === 2, 'both charged after the replay');
    expect(charged.sort()).toEqual(['o-1', 'o-2']);
  }, 60_000);
});
