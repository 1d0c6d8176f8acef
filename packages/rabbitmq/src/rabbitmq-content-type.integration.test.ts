/**
 * Content type and encoding are honoured, not ignored: a message whose AMQP `content-type` the
 * codec does not read, or whose `content-encoding` is not identity, goes to the dead-letter queue
 * with `DECODE` and the reason, even when its bytes happen to be a well-formed envelope; messages
 * declared as JSON flow.
 */
import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createBus, createEnvelope, defineCommand, jsonCodec, silentLogger, type DeadLetter } from '@missive/core';
import { createWaiter } from '@missive/testing';
import { cleanupAfterEach, needRabbitMq, rabbitUrl } from './test-support/broker.js';
import { RabbitMqTransport } from './rabbitmq-transport.js';

const cleanup = cleanupAfterEach();

describe('rabbitmq content type and encoding', () => {
  it('dead-letters what the codec cannot read by its declared type or encoding; reads JSON', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const run = randomBytes(4).toString('hex');
    const queue = `content-${run}`;
    const Job = defineCommand(`content.job-${run}`, z.object({ n: z.number() }));
    const waiter = createWaiter();
    const handled: number[] = [];
    const dead: string[] = [];
    const bus = createBus({
      service: 'content',
      transport: new RabbitMqTransport({ url: rabbitUrl }, { logger: silentLogger }),
      logger: silentLogger,
      retry: { immediate: 0, delayed: false },
    });
    bus.on('dead-lettered', (event) => void (dead.push(event.messageId), waiter.notify()));
    bus.endpoint(queue, (e) => e.on(Job, ({ n }) => void (handled.push(n), waiter.notify())));
    await bus.start();
    cleanup.push(async () => {
      await bus.stop();
      const admin = new RabbitMqTransport({ url: rabbitUrl }, { logger: silentLogger });
      await admin.connect();
      await admin.deleteQueue(queue);
      await admin.deleteTopic(Job.name);
      await admin.close();
    });

    const codec = jsonCodec();
    const connection = await amqp.connect(rabbitUrl);
    cleanup.push(() => connection.close());
    const channel = await connection.createConfirmChannel();
    const put = async (n: number, properties: amqp.Options.Publish) => {
      const envelope = createEnvelope({ type: Job.name, source: '/raw', kind: 'command', data: { n } });
      channel.sendToQueue(queue, Buffer.from(codec.encode(envelope)), {
        persistent: true,
        messageId: envelope.id,
        type: Job.name,
        ...properties,
      });
      await channel.waitForConfirms();
      return envelope.id;
    };
    const gzipped = await put(1, { contentType: 'text/plain', contentEncoding: 'gzip' });
    const plain = await put(2, { contentType: 'text/plain' });
    await put(3, { contentType: 'application/json; charset=utf-8' });
    await put(4, {});
    await waiter.until(() => handled.length === 2 && dead.length === 2, 'two handled and two dead-lettered');
    expect(handled.sort()).toEqual([3, 4]);
    let letters: DeadLetter[] = [];
    await waiter.eventually(
      async () => (letters = await bus.deadLetters.list(queue)),
      (l) => l.length === 2,
      'the two dead letters',
    );
    const byId = new Map(letters.map((l) => [l.message.id, l.failure]));
    expect(byId.get(gzipped)).toMatchObject({ reason: 'DECODE', errorMessage: expect.stringContaining('gzip') as unknown });
    expect(byId.get(plain)).toMatchObject({ reason: 'DECODE', errorMessage: expect.stringContaining('text/plain') as unknown });
  }, 30_000);
});
