/**
 * The topology on the real broker: an exchange per message type, fed to `missive.topics` only where
 * a wire tap matches the type (whichever of the two came first), one copy per queue when a queue is
 * reached both by its type and by a wildcard, a clear error for an exchange declared differently,
 * and nothing left behind by `deleteTopic`.
 */
import { randomBytes } from 'node:crypto';
import * as amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { ConfigurationError, silentLogger } from '@missive/core';
import { cleanupAfterEach, needRabbitMq, rabbitUrl } from './test-support/broker.js';
import { RabbitMqTransport } from './rabbitmq-transport.js';

const url = rabbitUrl;
const cleanup = cleanupAfterEach();

async function transport(): Promise<RabbitMqTransport> {
  const t = new RabbitMqTransport({ url }, { logger: silentLogger });
  await t.connect();
  cleanup.push(() => t.close());
  return t;
}

/** Whether `check` succeeds, asked on a throwaway connection (a failed check closes the channel). */
async function exists(check: (channel: amqp.Channel) => Promise<unknown>): Promise<boolean> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    await check(channel);
    return true;
  } catch {
    return false;
  } finally {
    await connection.close().catch(() => undefined);
  }
}

const exchangeExists = (name: string) => exists((channel) => channel.checkExchange(name));

describe('rabbitmq topology', () => {
  it('gives every message type its own exchange; a queue reached by its type and a wildcard gets one copy', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const run = randomBytes(4).toString('hex');
    const type = `topo-${run}.order-placed`;
    const queue = `topo-${run}`;
    const t = await transport();
    cleanup.push(() => t.deleteTopic(type));
    cleanup.push(() => t.deleteTopic(`topo-${run}.other`));
    cleanup.push(() => t.deleteQueue(queue));
    await t.declare({ name: queue, topics: [type, `topo-${run}.#`] });
    expect(await exchangeExists(type)).toBe(true);

    const consumer = t.consume(queue, { prefetch: 10 });
    await consumer.ready;
    const publisher = await transport(); // declares the type's exchange on its first publish
    await publisher.publish(type, { id: 'one', type, body: Buffer.from('{}'), headers: {} });
    await publisher.publish(`topo-${run}.other`, { id: 'two', type, body: Buffer.from('{}'), headers: {} });
    const got: string[] = [];
    const iterator = consumer[Symbol.asyncIterator]();
    for (let i = 0; i < 2; i++) {
      const next = await iterator.next();
      if (next.done === true) throw new Error('the consumer ended early');
      got.push(next.value.message.id);
      await next.value.ack();
    }
    expect(got.sort()).toEqual(['one', 'two']);
    await consumer.close();
    expect((await t.queues()).find((q) => q.name === queue)?.depth).toBe(0); // no second copy of "one"

    // Deleted under a publisher that knew it: the publish closes the channel (NOT_FOUND), the
    // transport declares the exchange again and publishes on a new channel.
    const other = await amqp.connect(url);
    await (await other.createChannel()).deleteExchange(type);
    await other.close();
    expect(await exchangeExists(type)).toBe(false);
    await publisher.publish(type, { id: 'three', type, body: Buffer.from('{}'), headers: {} });
    expect(await exchangeExists(type)).toBe(true);
    await t.deleteTopic(type);
    expect(await exchangeExists(type)).toBe(false);
  }, 60_000);

  it('a wire tap gets the types published before it started and those first published after', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const run = randomBytes(4).toString('hex');
    const [early, late, elsewhere] = [`tap-${run}.early`, `tap-${run}.late`, `other-${run}.thing`];
    const publisher = await transport();
    for (const type of [early, late, elsewhere]) cleanup.push(() => publisher.deleteTopic(type));
    await publisher.publish(early, { id: 'early-1', type: early, body: Buffer.from('{}'), headers: {} }); // no tap yet
    await publisher.publish(elsewhere, { id: 'elsewhere-1', type: elsewhere, body: Buffer.from('{}'), headers: {} });

    const tap = await transport();
    const queue = `tap-${run}`;
    cleanup.push(() => tap.deleteQueue(queue));
    await tap.declare({ name: queue, topics: [`tap-${run}.#`] }); // binds the exchange of "early", recorded before it
    const consumer = tap.consume(queue, { prefetch: 10 });
    await consumer.ready;
    await publisher.publish(early, { id: 'early-2', type: early, body: Buffer.from('{}'), headers: {} });
    await publisher.publish(late, { id: 'late-1', type: late, body: Buffer.from('{}'), headers: {} }); // its publisher sees the tap
    await publisher.publish(elsewhere, { id: 'elsewhere-2', type: elsewhere, body: Buffer.from('{}'), headers: {} });
    const got: string[] = [];
    const iterator = consumer[Symbol.asyncIterator]();
    while (got.length < 2) {
      const next = await iterator.next();
      if (next.done === true) throw new Error('the consumer ended early');
      got.push(next.value.message.id);
      await next.value.ack();
    }
    expect(got.sort()).toEqual(['early-2', 'late-1']);
    await consumer.close();
    expect((await tap.queues()).find((q) => q.name === queue)?.depth).toBe(0); // nothing of "other-…"
  }, 60_000);

  it('leaves nothing half-declared: a conflict on a later queue deletes the queues the declaration created', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const queue = `topo-${randomBytes(4).toString('hex')}`;
    const connection = await amqp.connect(url);
    const channel = await connection.createChannel();
    await channel.assertQueue(`${queue}.dead-letters`, { durable: true, arguments: { 'x-queue-type': 'classic' } });
    cleanup.push(async () => {
      await channel.deleteQueue(`${queue}.dead-letters`);
      await connection.close();
    });
    const t = await transport(); // quorum queues by default
    const error = (await t.declare({ name: queue, topics: [] }).catch((e: unknown) => e)) as Error;
    cleanup.push(() => t.deleteQueue(queue));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain(`queue "${queue}.dead-letters" already exists`);
    expect(await exists((ch) => ch.checkQueue(queue))).toBe(false);
    expect(await exists((ch) => ch.checkQueue(`${queue}.dead-letters`))).toBe(true); // not ours to delete
  }, 60_000);

  it('refuses an exchange of the same name declared differently, naming it', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const run = randomBytes(4).toString('hex');
    const type = `topo-${run}.fanout`;
    const connection = await amqp.connect(url);
    const channel = await connection.createChannel();
    await channel.assertExchange(type, 'fanout', { durable: true });
    cleanup.push(async () => {
      await channel.deleteExchange(type);
      await connection.close();
    });
    const t = await transport();
    const error = (await t.declare({ name: `topo-${run}`, topics: [type] }).catch((e: unknown) => e)) as Error;
    cleanup.push(() => t.deleteQueue(`topo-${run}`));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain(`exchange "${type}" already exists`);
    expect(error.message).toContain('topic');
    const late = { id: 'late', type: 'x', body: Buffer.from('{}'), headers: {} };
    await expect(t.send(`topo-${run}`, late, { notBefore: Date.now() + 50 * 86_400_000 })).rejects.toThrow(/at most 4200000000 ms/);
    await expect(t.publish('amq.mine', { id: 'x', type: 'x', body: Buffer.from('{}'), headers: {} })).rejects.toThrow(/reserved/);
  }, 60_000);

  it("declares a type's exchange again when someone deleted it (the broker closed the publisher with 404)", async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const type = `topo-${randomBytes(4).toString('hex')}.gone`;
    const t = new RabbitMqTransport({ url, publishTimeoutMs: 3_000 }, { logger: silentLogger });
    await t.connect();
    cleanup.push(() => t.close());
    cleanup.push(() => t.deleteTopic(type));
    await t.publish(type, { id: 'before', type, body: Buffer.from('{}'), headers: {} });
    // Deleted behind the transport's back: it still believes the exchange exists.
    await exists((channel) => channel.deleteExchange(type));
    expect(await exchangeExists(type)).toBe(false);
    await t.publish(type, { id: 'after', type, body: Buffer.from('{}'), headers: {} });
    expect(await exchangeExists(type)).toBe(true);
  });
});
