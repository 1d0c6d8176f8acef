/**
 * A reconnect sets the new connection up exactly once, whatever publishes meanwhile: a publish that
 * arrives while the setup after a reconnect is still running waits for that setup instead of
 * starting a second one (which counted the generation up twice and resumed every consumer twice,
 * leaving an orphan channel on the broker that kept taking messages no one could ack).
 *
 * A publisher channel the broker keeps refusing is replaced on the same connection: after a cluster
 * node died, RabbitMQ went on nacking every publish on one channel for minutes while a new channel
 * was confirmed at once (see `RabbitConnection.renewPublisher`).
 */
import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import * as amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { silentLogger, type Logger } from '@missive/core';
import { createWaiter, startFaultProxy } from '@missive/testing';
import { cleanupAfterEach, needRabbitMq, rabbitUrl } from './test-support/broker.js';
import type { ConnectionHooks } from './rabbitmq-connection.js';
import { RabbitMqTransport } from './rabbitmq-transport.js';

const url = new URL(rabbitUrl);
const cleanup = cleanupAfterEach();
const waiter = createWaiter({ timeoutMs: 30_000 });

/** amqplib's recovering connection model inside the transport: the test listens to its `connect` event. */
function modelOf(transport: RabbitMqTransport): EventEmitter {
  return (transport as unknown as { link: { model: EventEmitter } }).link.model;
}

/** What the test reaches into in the transport's connection (`RabbitConnection`): its hooks, its running setup, its state, its admin channel. */
interface LinkInternals {
  hooks: ConnectionHooks;
  readonly ready: Promise<void> | undefined;
  readonly current: amqp.ChannelModel | undefined;
  readonly publisherNow: amqp.ConfirmChannel | undefined;
  readonly admin: amqp.Channel | undefined;
  dropAdmin(): void;
}

function linkOf(transport: RabbitMqTransport): LinkInternals {
  return (transport as unknown as { link: LinkInternals }).link;
}

describe('rabbitmq reconnect', () => {
  it('a publish while the new connection is being set up does not set it up a second time', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const proxy = await startFaultProxy({ port: Number(url.port || 5672), host: url.hostname });
    cleanup.push(() => proxy.close());
    const proxied = new URL(url.href);
    proxied.port = String(proxy.port);
    const transport = new RabbitMqTransport({ url: proxied.href, publishTimeoutMs: 20_000 }, { logger: silentLogger });
    await transport.connect();
    cleanup.push(() => transport.close());
    const queue = `reconnect-${randomBytes(4).toString('hex')}`;
    cleanup.push(() => transport.deleteQueue(queue));
    await transport.declare({ name: queue, topics: [] });
    const consumer = transport.consume(queue, { prefetch: 10 });
    await consumer.ready;
    const received: string[] = [];
    const loop = (async () => {
      for await (const delivery of consumer) {
        received.push(delivery.message.id);
        await delivery.ack();
        waiter.notify();
      }
    })();

    // The transport's own listener runs first and starts the setup; this one publishes right
    // after, while that setup is still at its first await.
    let racing: Promise<void> | undefined;
    modelOf(transport).on('connect', () => {
      racing ??= transport.send(queue, { id: 'during-setup', type: 't', body: Buffer.from('{}'), headers: {} });
    });
    const generation = transport.generation;
    proxy.cut();
    await waiter.until(() => racing !== undefined, 'the reconnect');
    await racing;
    expect(transport.generation).toBe(generation + 1);
    // One consumer on the broker: no second channel resumed beside the first.
    const info = (await transport.queues()).find((q) => q.name === queue);
    expect(info?.consumers).toBe(1);
    // Everything sent is handed out and acked on the live channel: nothing stuck on an orphan.
    const after = Array.from({ length: 20 }, (_, i) => `after-${i}`);
    await Promise.all(after.map((id) => transport.send(queue, { id, type: 't', body: Buffer.from('{}'), headers: {} })));
    await waiter.until(() => ['during-setup', ...after].every((id) => received.includes(id)), 'every message after the reconnect');
    await consumer.close();
    await loop;
    const drained = (await transport.queues()).find((q) => q.name === queue);
    expect(drained?.depth).toBe(0);
  }, 60_000);

  it("an older connection's setup that ends after a newer connection's installs nothing: the newer publisher channel stays", async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const proxy = await startFaultProxy({ port: Number(url.port || 5672), host: url.hostname });
    cleanup.push(() => proxy.close());
    const proxied = new URL(url.href);
    proxied.port = String(proxy.port);
    const transport = new RabbitMqTransport({ url: proxied.href, publishTimeoutMs: 20_000 }, { logger: silentLogger });
    await transport.connect();
    cleanup.push(() => transport.close());
    const queue = `reconnect-race-${randomBytes(4).toString('hex')}`;
    cleanup.push(() => transport.deleteQueue(queue));
    await transport.declare({ name: queue, topics: [] });
    const consumer = transport.consume(queue, { prefetch: 10 });
    await consumer.ready;
    const received: string[] = [];
    const loop = (async () => {
      for await (const delivery of consumer) {
        received.push(delivery.message.id);
        await delivery.ack();
        waiter.notify();
      }
    })();

    // The next connection's setup finishes its declarations, then waits (a slow step) until the
    // connection after it is set up.
    const link = linkOf(transport);
    const setUp = link.hooks.setUp;
    let hold = true;
    let held: Promise<void> | undefined;
    let letGo!: () => void;
    const gate = new Promise<void>((resolve) => (letGo = resolve));
    link.hooks.setUp = async (connection, admin) => {
      await setUp(connection, admin);
      if (!hold) return;
      hold = false;
      held = link.ready; // this setup's outcome
      waiter.notify();
      await gate;
    };
    const generation = transport.generation;
    proxy.cut();
    await waiter.until(() => held !== undefined, "the first reconnect's setup, held");
    proxy.cut(); // that connection is lost too; the next one is set up at once
    await waiter.until(() => transport.generation === generation + 2 && transport.status().connected, 'the second reconnect, set up');
    const current = link.current!;
    letGo();
    await held!.catch(() => undefined);
    // The publisher channel is still the current connection's, and publishing works.
    expect(link.publisherNow?.connection).toBe(current.connection);
    await transport.send(queue, { id: 'after-both', type: 't', body: Buffer.from('{}'), headers: {} });
    await waiter.until(() => received.includes('after-both'), 'the message sent after both setups');
    expect((await transport.queues()).find((q) => q.name === queue)?.consumers).toBe(1);
    await consumer.close();
    await loop;
  }, 60_000);

  it("an admin channel opened on a connection lost meanwhile is not installed over the newer connection's: the declaration waits and goes through", async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const proxy = await startFaultProxy({ port: Number(url.port || 5672), host: url.hostname });
    cleanup.push(() => proxy.close());
    const proxied = new URL(url.href);
    proxied.port = String(proxy.port);
    const transport = new RabbitMqTransport({ url: proxied.href, publishTimeoutMs: 20_000 }, { logger: silentLogger });
    await transport.connect();
    cleanup.push(() => transport.close());
    const queues = [0, 1, 2].map((i) => `reconnect-admin-${i}-${randomBytes(4).toString('hex')}`);
    for (const queue of queues) cleanup.push(() => transport.deleteQueue(queue));
    await transport.declare({ name: queues[0]!, topics: [] });

    // The admin channel is gone (what a refused declaration does), so the next declaration opens
    // one. Its opening on this connection answers only once a newer connection is set up (a slow
    // step, as the setup race's test holds a setup; amqplib itself resolves an open whose reply
    // came in the same read as the connection's close, after the close).
    const link = linkOf(transport);
    const first = link.current!;
    const createChannel = first.createChannel.bind(first);
    let opened: amqp.Channel | undefined;
    let letGo!: () => void;
    const gate = new Promise<void>((resolve) => (letGo = resolve));
    first.createChannel = async (options?: unknown) => {
      first.createChannel = createChannel; // this opening only
      const channel = await createChannel(options as never);
      opened = channel;
      waiter.notify();
      await gate;
      return channel;
    };
    link.dropAdmin();
    const generation = transport.generation;
    const declaring = transport.declare({ name: queues[1]!, topics: [] }).then(
      () => 'declared',
      (error: unknown) => error,
    );
    await waiter.until(() => opened !== undefined, 'the admin channel opened on the first connection, held');
    proxy.cut();
    await waiter.until(() => transport.generation === generation + 1 && transport.status().connected, 'the reconnect, set up');
    letGo();
    // The declaration went through on the newer connection, and the admin channel is that connection's.
    expect(await declaring).toBe('declared');
    expect(link.admin?.connection).toBe(link.current!.connection);
    await transport.declare({ name: queues[2]!, topics: [] });
    expect(
      (await transport.queues())
        .filter((q) => queues.includes(q.name))
        .map((q) => q.name)
        .sort(),
    ).toEqual([...queues].sort());
  }, 60_000);

  it('a reconnect to another node of the cluster logs the node it lost and the node it connected to, with no credentials', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    // Two "nodes": two proxies to the one broker.
    const nodes = [
      await startFaultProxy({ port: Number(url.port || 5672), host: url.hostname }),
      await startFaultProxy({ port: Number(url.port || 5672), host: url.hostname }),
    ];
    for (const node of nodes) cleanup.push(() => node.close());
    const logged: { level: string; url: unknown; text: string }[] = [];
    const record =
      (level: string) =>
      (first: unknown, text?: string): void => {
        const fields = typeof first === 'string' ? {} : (first as { url?: unknown });
        logged.push({ level, url: fields.url, text: typeof first === 'string' ? first : (text ?? '') });
        waiter.notify();
      };
    const logger: Logger = { ...silentLogger, info: record('info'), warn: record('warn') };
    const clustered = new URL(url.href);
    clustered.username = 'guest';
    clustered.password = 'guest';
    clustered.port = String(nodes[0]!.port);
    clustered.searchParams.set('failover', `${url.hostname}:${nodes[1]!.port}`);
    const transport = new RabbitMqTransport({ url: clustered.href, publishTimeoutMs: 20_000 }, { logger });
    await transport.connect();
    cleanup.push(() => transport.close());
    // The first node goes away: the connection moves to the second.
    nodes[0]!.refuse(true);
    nodes[0]!.cut();
    await waiter.until(() => logged.some((l) => l.text === 'rabbitmq connection recovered'), 'the connection recovered');
    const lost = logged.find((l) => l.text.startsWith('rabbitmq connection lost'));
    const recovered = logged.find((l) => l.text === 'rabbitmq connection recovered');
    expect(new URL(String(lost?.url)).port).toBe(String(nodes[0]!.port));
    expect(new URL(String(recovered?.url)).port).toBe(String(nodes[1]!.port));
    for (const line of [lost, recovered]) {
      expect(String(line?.url)).not.toContain('guest:guest');
      expect(new URL(String(line?.url)).password).toBe('***');
    }
    expect(nodes[1]!.accepted).toBe(1);
  }, 60_000);

  it('a publisher channel the broker keeps refusing is replaced; the connection, its generation and its consumers stay', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const logged: string[] = [];
    const logger: Logger = {
      ...silentLogger,
      info: (first: unknown, text?: string) => {
        logged.push(typeof first === 'string' ? first : (text ?? ''));
        waiter.notify();
      },
    };
    const transport = new RabbitMqTransport({ url: rabbitUrl, publishTimeoutMs: 30_000 }, { logger });
    await transport.connect();
    cleanup.push(() => transport.close());
    const consumed = `renew-consumed-${randomBytes(4).toString('hex')}`;
    cleanup.push(() => transport.deleteQueue(consumed));
    await transport.declare({ name: consumed, topics: [] });
    const consumer = transport.consume(consumed, { prefetch: 10 });
    await consumer.ready;
    const received: string[] = [];
    const loop = (async () => {
      for await (const delivery of consumer) {
        received.push(delivery.message.id);
        await delivery.ack();
        waiter.notify();
      }
    })();
    // A queue that refuses every publish (length 0, reject-publish), declared beside the transport.
    const raw = await amqp.connect(rabbitUrl);
    cleanup.push(() => raw.close());
    const admin = await raw.createChannel();
    const refusing = `renew-refusing-${randomBytes(4).toString('hex')}`;
    cleanup.push(() => admin.deleteQueue(refusing).then(() => undefined));
    await admin.assertQueue(refusing, { durable: true, arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish' } });

    const generation = transport.generation;
    const renewed = 'RabbitMQ kept refusing publishes on the publisher channel; publishing on a new channel';
    const sending = transport.send(refusing, { id: 'refused-at-first', type: 't', body: Buffer.from('{}'), headers: {} }).then(
      () => 'confirmed',
      (error: unknown) => error,
    );
    await waiter.until(() => logged.includes(renewed), 'the refusing publisher channel replaced');
    // The queue takes messages again: the waiting send goes through on the new channel.
    await admin.deleteQueue(refusing);
    await admin.assertQueue(refusing, { durable: true });
    expect(await sending).toBe('confirmed');
    expect((await admin.checkQueue(refusing)).messageCount).toBe(1);
    expect(transport.generation).toBe(generation);
    await transport.send(consumed, { id: 'after-renewal', type: 't', body: Buffer.from('{}'), headers: {} });
    await waiter.until(() => received.includes('after-renewal'), 'a message consumed after the renewal');
    expect((await transport.queues()).find((q) => q.name === consumed)?.consumers).toBe(1);
    await consumer.close();
    await loop;
  }, 60_000);
});
