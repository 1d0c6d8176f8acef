/**
 * A registry read waits for a marker of its own, appended unconfirmed. An append on a channel the
 * broker is closing (a check of a missing queue sent on it just before) is dropped without a word:
 * the read must not wait out its 30 s timeout for a marker that will never come, but append it
 * again (with the record before it) on the admin channel.
 */
import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '@missive/core';
import { cleanupAfterEach, needRabbitMq, rabbitUrl } from './test-support/broker.js';
import { typesRecord } from './queue-registry.js';
import type { RabbitRegistry } from './rabbitmq-registry.js';
import { RabbitMqTransport } from './rabbitmq-transport.js';

const cleanup = cleanupAfterEach();

/** The transport's registry (internal). */
const registryOf = (transport: RabbitMqTransport) => (transport as unknown as { registry: RabbitRegistry }).registry;

describe('rabbitmq registry markers', () => {
  it('appends the record and the marker again when the first append was dropped with its closing channel', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const run = randomBytes(4).toString('hex');
    const transport = new RabbitMqTransport({ url: rabbitUrl }, { logger: silentLogger });
    await transport.connect();
    cleanup.push(() => transport.close());
    await registryOf(transport).ensureFollowing(); // so that the read below appends at once, in this turn
    const connection = await amqp.connect(rabbitUrl);
    cleanup.push(() => connection.close());
    const doomed = await connection.createChannel();
    const closed = new Promise<void>((resolve) => doomed.on('close', () => resolve()));
    doomed.on('error', () => undefined);
    // The broker closes the channel on this check; what is published on it after, before the client
    // hears of the close, is discarded.
    const check = doomed.checkQueue(`marker-missing-${run}`).catch(() => undefined);
    const type = `marker-${run}.created`;
    const read = registryOf(transport).readAfter(doomed, typesRecord([type]));
    await Promise.all([check, closed]);
    const registry = await read;
    expect(registry.types.has(type), 'the record appended again before the marker').toBe(true);
  }, 20_000);
});
