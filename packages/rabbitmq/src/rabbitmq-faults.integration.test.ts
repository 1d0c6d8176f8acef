/**
 * RabbitMQ under faults: the connection cut mid-stream by a TCP fault proxy (the transport
 * reconnects, re-declares, resumes its consumer, and every confirmed message arrives), publishes
 * during an outage (they wait and go out after the reconnect, or fail with a typed error when the
 * outage outlasts the deadline: never silently lost), and clear errors for bad URLs and conflicting
 * declarations.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigurationError, TransportError, createBus, silentLogger } from '@missive/core';
import { createWaiter, startFaultProxy, type FaultProxy } from '@missive/testing';
import { cleanupAfterEach, needRabbitMq, rabbitUrl } from './test-support/broker.js';
import { RabbitMqTransport } from './rabbitmq-transport.js';

const url = new URL(rabbitUrl);
const cleanup = cleanupAfterEach();

async function through(proxy: FaultProxy, options: { publishTimeoutMs?: number } = {}): Promise<RabbitMqTransport> {
  const proxied = new URL(url.href);
  proxied.port = String(proxy.port);
  const transport = new RabbitMqTransport({ url: proxied.href, ...options }, { logger: silentLogger });
  await transport.connect();
  cleanup.push(() => transport.close());
  return transport;
}

const until = createWaiter({ timeoutMs: 30_000 }).until;

describe('rabbitmq faults', () => {
  it('a connection cut mid-stream: reconnects, resumes the consumer, loses nothing that was confirmed', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const proxy = await startFaultProxy({ port: Number(url.port || 5672), host: url.hostname });
    cleanup.push(() => proxy.close());
    const queue = `faults-${randomBytes(4).toString('hex')}`;
    const transport = await through(proxy);
    cleanup.push(() => transport.deleteQueue(queue));
    cleanup.push(() => transport.deleteTopic(`${queue}.topic`));
    await transport.declare({ name: queue, topics: [`${queue}.topic`] });
    const received = new Set<string>();
    const consumer = transport.consume(queue, { prefetch: 20 });
    const loop = (async () => {
      for await (const delivery of consumer) {
        received.add(delivery.message.id);
        await delivery.ack();
      }
    })();
    const confirmed: string[] = [];
    const failed: string[] = [];
    // Publishers run many publishes at once; a quorum queue confirms after an fsync, so one at a time
    // would measure the disk. Batches of 20; the connection is cut before the eighth.
    for (let batch = 0; batch < 20; batch++) {
      if (batch === 7) proxy.cut();
      await Promise.all(
        Array.from({ length: 20 }, (_, k) => {
          const id = `m-${batch * 20 + k}`;
          return transport.publish(`${queue}.topic`, { id, type: 't', body: Buffer.from(id), headers: {} }).then(
            () => void confirmed.push(id),
            (error: unknown) => {
              expect(error).toBeInstanceOf(TransportError);
              failed.push(id);
            },
          );
        }),
      );
    }
    await until(() => confirmed.every((id) => received.has(id)), `all ${confirmed.length} confirmed messages`);
    expect(confirmed.length + failed.length).toBe(400);
    expect(confirmed.length).toBeGreaterThan(390);
    expect(proxy.accepted).toBeGreaterThanOrEqual(2);
    await consumer.close();
    await loop;
  }, 60_000);

  it('a host that vanishes (no bytes, no close): heartbeats notice, the transport reconnects, the waiting publish goes out', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const proxy = await startFaultProxy({ port: Number(url.port || 5672), host: url.hostname });
    cleanup.push(() => proxy.close());
    const queue = `vanish-${randomBytes(4).toString('hex')}`;
    const proxied = new URL(url.href);
    proxied.port = String(proxy.port);
    proxied.searchParams.set('heartbeat', '1');
    const transport = new RabbitMqTransport({ url: proxied.href, publishTimeoutMs: 30_000 }, { logger: silentLogger });
    await transport.connect();
    cleanup.push(() => transport.close());
    cleanup.push(() => transport.deleteQueue(queue));
    await transport.declare({ name: queue, topics: [] });
    const received: string[] = [];
    const consumer = transport.consume(queue, { prefetch: 5 });
    await consumer.ready;
    const loop = (async () => {
      for await (const delivery of consumer) {
        received.push(delivery.message.id);
        await delivery.ack();
      }
    })();

    proxy.refuse(true); // the host is gone: no new connections either
    proxy.freeze();
    const during = transport.send(queue, { id: 'sent-while-gone', type: 't', body: Buffer.from('{}'), headers: {} });
    // With a 1 s heartbeat amqplib declares the connection dead after two silent intervals and
    // starts reconnecting; the refused attempts show it.
    const attempts = proxy.accepted;
    await createWaiter({ timeoutMs: 20_000 }).until(() => proxy.refused > 0, 'a reconnect attempt after the heartbeat timeout');
    expect(proxy.accepted).toBe(attempts);
    proxy.refuse(false);
    await during;
    await until(() => received.includes('sent-while-gone'), 'the message sent while the host was gone');
    await consumer.close();
    await loop;
  }, 60_000);

  it('publishes wait while the socket cannot take more, instead of piling up in memory', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const proxy = await startFaultProxy({ port: Number(url.port || 5672), host: url.hostname });
    cleanup.push(() => proxy.close());
    const queue = `drain-${randomBytes(4).toString('hex')}`;
    const transport = await through(proxy, { publishTimeoutMs: 30_000 });
    cleanup.push(() => transport.deleteQueue(queue));
    await transport.declare({ name: queue, topics: [] });
    const body = Buffer.alloc(100_000, 'x'); // one buffer shared by every message: what grows is the client's copies
    proxy.freeze(); // nothing reaches the broker: the socket and then the channel buffer fill up
    const before = process.memoryUsage().arrayBuffers;
    const publishes = Array.from({ length: 600 }, (_, i) => transport.send(queue, { id: `big-${i}`, type: 't', body, headers: {} }));
    for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
    const grown = process.memoryUsage().arrayBuffers - before;
    // All 600 encoded would be 60 MB of frames. Waiting, only what the buffers took before they were
    // full: 64 messages in the channel's buffer and one in the socket's (about 10 MB here).
    expect(grown).toBeLessThan(20_000_000);
    proxy.cut(); // the transport reconnects and publishes every one of them
    await Promise.all(publishes);
    expect((await transport.queues()).find((q) => q.name === queue)?.depth).toBe(600);
  }, 60_000);

  it('a publish during an outage waits for the reconnect, or fails with a typed error after its deadline', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const proxy = await startFaultProxy({ port: Number(url.port || 5672), host: url.hostname });
    cleanup.push(() => proxy.close());
    const queue = `outage-${randomBytes(4).toString('hex')}`;
    const impatient = await through(proxy, { publishTimeoutMs: 300 });
    const patient = await through(proxy, { publishTimeoutMs: 20_000 });
    cleanup.push(() => patient.deleteQueue(queue));
    await patient.declare({ name: queue, topics: [] });
    proxy.refuse(true);
    proxy.cut();
    const early = await impatient.send(queue, { id: 'gives-up', type: 't', body: Buffer.from('x'), headers: {} }).catch((e: unknown) => e);
    expect(early).toBeInstanceOf(TransportError);
    expect((early as Error).message).toContain('did not come back within 300 ms');
    const waiting = patient.send(queue, { id: 'waits', type: 't', body: Buffer.from('y'), headers: {} });
    proxy.refuse(false);
    await waiting;
    const info = (await patient.queues()).find((q) => q.name === queue);
    expect(info?.depth).toBe(1);
  }, 60_000);

  it('refuses a bad URL and a conflicting declaration with messages that say what to fix, without the password', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    expect(() => new RabbitMqTransport({ url: 'http://localhost' })).toThrow(/amqp:\/\/ or amqps:\/\//);
    expect(() => new RabbitMqTransport({ url: 'amqp://u:p@h/v?queueType=stream' })).toThrow(/quorum" or "classic/);
    const bus = createBus({ service: 's', transport: 'amqp://guest:hunter2@127.0.0.1:1', logger: silentLogger });
    const refused = (await bus.start().catch((e: unknown) => e)) as Error;
    expect(refused.message).toContain('cannot connect to RabbitMQ');
    expect(refused.message).not.toContain('hunter2');
    const queue = `conflict-${randomBytes(4).toString('hex')}`;
    const quorum = new RabbitMqTransport({ url: url.href, queueType: 'quorum' }, { logger: silentLogger });
    await quorum.connect();
    cleanup.push(() => quorum.close());
    cleanup.push(() => quorum.deleteQueue(queue));
    await quorum.declare({ name: queue, topics: [] });
    const classic = new RabbitMqTransport({ url: url.href, queueType: 'classic' }, { logger: silentLogger });
    await classic.connect();
    cleanup.push(() => classic.close());
    const error = (await classic.declare({ name: queue, topics: [] }).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain(`queue "${queue}" already exists`);
    expect(error.message).toContain('x-queue-type');
  }, 60_000);
});
