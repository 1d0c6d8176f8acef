/**
 * A new transport starts reading the registry from a snapshot near its end, not from the first
 * record, and still knows everything: what was recorded before the snapshot, and what a writer
 * that predates snapshots (no timestamp, no snapshot) appended after it. A reader that predates
 * snapshots (from the first record, `parseRecord`) still reads every record.
 */
import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '@missive/core';
import { createWaiter } from '@missive/testing';
import { cleanupAfterEach, needRabbitMq, rabbitUrl } from './test-support/broker.js';
import { parseRecord, REGISTRY_QUEUE, registryRecord, type RegistryFollower } from './queue-registry.js';
import { RabbitMqTransport } from './rabbitmq-transport.js';

const cleanup = cleanupAfterEach();

/** The transport's registry reader (internal). */
const viewOf = (transport: RabbitMqTransport) => (transport as unknown as { registry: { view: RegistryFollower } }).registry.view;

describe('rabbitmq registry snapshots', () => {
  it('a new reader starts from a snapshot and knows what came before and after it', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const run = randomBytes(4).toString('hex');
    const early = `snap-early-${run}`;
    const late = `snap-late-${run}`;
    const transport = () => new RabbitMqTransport({ url: rabbitUrl }, { logger: silentLogger });
    const first = transport();
    await first.connect();
    cleanup.push(() => first.close());
    cleanup.push(async () => {
      for (const name of [early, late]) await first.deleteQueue(name).catch(() => undefined);
    });
    await first.declare({ name: early, topics: [`snap-${run}.#`] }); // a tap: reads the registry, then a snapshot is due or fresh
    expect(viewOf(first).starts.length).toBe(1);

    // A writer that predates snapshots: a queue record without a timestamp, appended after.
    const connection = await amqp.connect(rabbitUrl);
    cleanup.push(() => connection.close());
    const raw = await connection.createConfirmChannel();
    await raw.assertQueue(late, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    raw.sendToQueue(REGISTRY_QUEUE, registryRecord({ name: late, topics: [] }), { persistent: true });
    await raw.waitForConfirms();

    const second = transport();
    await second.connect();
    cleanup.push(() => second.close());
    const names = (await second.queues()).map((q) => q.name);
    expect(names).toContain(early);
    expect(names).toContain(late);
    const [start] = viewOf(second).starts;
    expect(start?.from, 'the second reader started from a snapshot').toBe('snapshot');

    // A reader that predates snapshots reads every record from the first, the snapshot skipped.
    const old = await connection.createChannel();
    await old.prefetch(1000);
    const seen = new Set<string>();
    const waiter = createWaiter({ timeoutMs: 30_000 });
    await old.consume(
      REGISTRY_QUEUE,
      (message) => {
        if (message === null) return;
        old.ack(message);
        const record = parseRecord(message.content);
        if (record !== undefined && 'topics' in record) seen.add(record.name);
        waiter.notify();
      },
      { arguments: { 'x-stream-offset': 'first' } },
    );
    await waiter.until(() => seen.has(early) && seen.has(late), 'the old reader to read both records');
  }, 60_000);
});
