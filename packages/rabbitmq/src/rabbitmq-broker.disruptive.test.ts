/**
 * RabbitMQ itself going away or pushing back, with `rabbitmqctl` on this machine. These tests stop
 * the broker and raise its memory alarm, which every other test using RabbitMQ would feel, so they
 * run in vitest's `disruptive` project: after all the others, one file at a time.
 *
 * - The broker restarts mid-stream (`stop_app`, `start_app`): the transport reconnects by itself,
 *   its consumer resumes, publishes made during the outage wait and go out, every confirmed
 *   message is received, and messages waiting in a durable queue survive the restart.
 * - The broker closes a consumer's channel (its acknowledgement timeout): the consumer consumes again
 *   on a new channel and gets the requeued message.
 * - The broker raises a memory alarm and blocks publishers: a publish waits up to `publishTimeout`
 *   and then fails with a `TransportError` that says why; one that waits long enough goes out when
 *   the alarm clears.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { TransportError, silentLogger, type TransportMessage } from '@missive/core';
import { createWaiter } from '@missive/testing';
import { cleanupAfterEach, needRabbitMq, rabbitUrl, unavailable } from './test-support/broker.js';
import { RabbitMqTransport } from './rabbitmq-transport.js';

const run = promisify(execFile);
const url = rabbitUrl;
const cleanup = cleanupAfterEach();

const rabbitmqctl = async (...args: string[]): Promise<string> => (await run('rabbitmqctl', args, { timeout: 60_000 })).stdout.trim();

/** The broker must be reachable and on this machine, under our control. */
async function needLocalBroker(ctx: { skip: (note?: string) => void }): Promise<boolean> {
  if (!(await needRabbitMq(ctx))) return false;
  if (
    await rabbitmqctl('status').then(
      () => true,
      () => false,
    )
  )
    return true;
  return unavailable(ctx, 'rabbitmqctl cannot reach the local broker (these tests restart it)');
}

const until = createWaiter({ timeoutMs: 60_000 }).until;

const message = (id: string): TransportMessage => ({ id, type: 't', body: Buffer.from(`{"id":"${id}"}`), headers: {} });

async function connected(options: { publishTimeoutMs: number }): Promise<RabbitMqTransport> {
  const transport = new RabbitMqTransport({ url, ...options }, { logger: silentLogger });
  await transport.connect();
  cleanup.push(() => transport.close());
  return transport;
}

describe('rabbitmq broker disruptions', () => {
  it('a broker restart mid-stream: reconnects, resumes the consumer, publishes made during the outage go out, durable messages survive', async (ctx) => {
    if (!(await needLocalBroker(ctx))) return;
    const name = `restart-${randomBytes(4).toString('hex')}`;
    const transport = await connected({ publishTimeoutMs: 60_000 });
    cleanup.push(() => transport.deleteQueue(`${name}-idle`));
    cleanup.push(() => transport.deleteQueue(name));
    await transport.declare({ name, topics: [] });
    await transport.declare({ name: `${name}-idle`, topics: [] });
    const received = new Set<string>();
    const consumer = transport.consume(name, { prefetch: 20 });
    await consumer.ready;
    const loop = (async () => {
      for await (const delivery of consumer) {
        received.add(delivery.message.id);
        await delivery.ack();
      }
    })();
    const batch = (label: string) =>
      Promise.all(Array.from({ length: 20 }, (_, i) => transport.send(name, message(`${label}-${i}`)).then(() => `${label}-${i}`)));
    const confirmed = [...(await batch('before-a')), ...(await batch('before-b'))];
    for (let i = 0; i < 30; i++) await transport.send(`${name}-idle`, message(`idle-${i}`));

    let restarted = false;
    cleanup.push(async () => {
      if (!restarted) await rabbitmqctl('start_app');
    });
    await rabbitmqctl('stop_app');
    const during = batch('during'); // waits for the connection to come back
    await rabbitmqctl('start_app');
    restarted = true;
    confirmed.push(...(await during), ...(await batch('after')));

    await until(() => confirmed.every((id) => received.has(id)), `all ${confirmed.length} confirmed messages (have ${received.size})`);
    expect(confirmed).toHaveLength(80);
    const idle = (await transport.queues()).find((q) => q.name === `${name}-idle`);
    expect(idle?.depth).toBe(30);
    await consumer.close();
    await loop;
  }, 180_000);

  it('a consumer whose channel the broker closes (acknowledgement timeout) consumes again on a new channel', async (ctx) => {
    if (!(await needLocalBroker(ctx))) return;
    const setting = (key: string) => rabbitmqctl('eval', `application:get_env(rabbit, ${key}).`);
    const before = { timeout: await setting('consumer_timeout'), tick: await setting('channel_tick_interval') };
    const restoreOne = async (key: string, value: string) => {
      const kept = /^\{ok,(\d+)\}$/.exec(value)?.[1];
      await rabbitmqctl(
        'eval',
        kept === undefined ? `application:unset_env(rabbit, ${key}).` : `application:set_env(rabbit, ${key}, ${kept}).`,
      );
    };
    cleanup.push(async () => {
      await restoreOne('consumer_timeout', before.timeout);
      await restoreOne('channel_tick_interval', before.tick);
    });
    // Channels opened from now on check every 200 ms for deliveries un-acked for more than 500 ms.
    await rabbitmqctl(
      'eval',
      'application:set_env(rabbit, consumer_timeout, 500), application:set_env(rabbit, channel_tick_interval, 200).',
    );

    const name = `timeout-${randomBytes(4).toString('hex')}`;
    const transport = await connected({ publishTimeoutMs: 10_000 });
    cleanup.push(() => transport.deleteQueue(name));
    await transport.declare({ name, topics: [] });
    const consumer = transport.consume(name, { prefetch: 5 });
    await consumer.ready;
    await transport.send(name, message('slow'));
    const seen: string[] = [];
    const iterator = consumer[Symbol.asyncIterator]();
    const next = async () => {
      const result = await iterator.next();
      if (result.done === true) throw new Error('the consumer ended');
      seen.push(result.value.message.id);
      return result.value;
    };
    const held = await next(); // not acked: the broker times the channel out and requeues it
    const again = await next(); // the same message, on the consumer's new channel
    expect(again.message.id).toBe('slow');
    await held.ack(); // settles nothing: its channel is gone
    await again.ack();
    await restoreOne('consumer_timeout', before.timeout);
    await transport.send(name, message('later'));
    await (await next()).ack();
    expect(seen).toEqual(['slow', 'slow', 'later']);
    await consumer.close();
  }, 120_000);

  it('a memory alarm blocks publishes: they wait up to publishTimeout and fail with a typed error, or go out when it clears', async (ctx) => {
    if (!(await needLocalBroker(ctx))) return;
    const name = `alarm-${randomBytes(4).toString('hex')}`;
    const impatient = await connected({ publishTimeoutMs: 500 });
    const patient = await connected({ publishTimeoutMs: 60_000 });
    cleanup.push(() => patient.deleteQueue(name));
    await patient.declare({ name, topics: [] });
    await impatient.send(name, message('warm-up'));
    await patient.send(name, message('warm-up-2'));

    const watermark = await rabbitmqctl('eval', 'vm_memory_monitor:get_vm_memory_high_watermark().');
    const restore = /^[0-9.]+$/.test(watermark) ? watermark : '0.4';
    let restored = false;
    cleanup.push(async () => {
      if (!restored) await rabbitmqctl('set_vm_memory_high_watermark', restore);
    });
    await rabbitmqctl('set_vm_memory_high_watermark', '0.00001');
    // The broker blocks a publishing connection when it next publishes; these first publishes wait.
    const first = impatient.send(name, message('first')).then(
      () => 'sent',
      (e: unknown) => e,
    );
    const waiting = patient.send(name, message('waits'));
    await until(() => impatient.blocked !== undefined && patient.blocked !== undefined, 'both connections to be blocked');
    expect(impatient.blocked).toMatch(/memory/i);

    const refused = await impatient.send(name, message('refused')).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TransportError);
    expect((refused as Error).message).toMatch(/RabbitMQ kept blocking publishes \(.*memory.*\) within 500 ms/i);

    await rabbitmqctl('set_vm_memory_high_watermark', restore);
    restored = true;
    await waiting;
    await until(() => impatient.blocked === undefined, 'the alarm to clear');
    expect(await first).toBe('sent'); // written before the block was known: confirmed once it lifted
    const depth = (await patient.queues()).find((q) => q.name === name)?.depth;
    expect(depth).toBe(4); // warm-up, warm-up-2, first, waits; never "refused"
  }, 180_000);
});
