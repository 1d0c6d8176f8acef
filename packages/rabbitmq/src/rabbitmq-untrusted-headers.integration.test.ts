/**
 * Delivery metadata written by whoever can publish never weakens the `maxDeliveries` guard on
 * RabbitMQ: a message published straight to an endpoint's queue with `x-missive-republished: -1000`
 * and absurd attempt headers is still dead-lettered with `MAX_DELIVERIES` after `maxDeliveries`
 * deliveries.
 */
import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createBus, createEnvelope, defineCommand, jsonCodec, silentLogger } from '@missive/core';
import { createWaiter } from '@missive/testing';
import { cleanupAfterEach, needRabbitMq, rabbitUrl } from './test-support/broker.js';
import { RabbitMqTransport } from './rabbitmq-transport.js';

const cleanup = cleanupAfterEach();

describe('rabbitmq headers the transport cannot trust', () => {
  it('a negative x-missive-republished never switches off maxDeliveries', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const run = randomBytes(4).toString('hex');
    const queue = `untrusted-${run}`;
    const Job = defineCommand(`untrusted.job-${run}`, z.object({ n: z.number() }));
    const waiter = createWaiter();
    const reasons: string[] = [];
    let runs = 0;
    const bus = createBus({
      service: 'untrusted',
      transport: new RabbitMqTransport({ url: rabbitUrl }, { logger: silentLogger }),
      logger: silentLogger,
      retry: { immediate: 0, delayed: { attempts: 100, initialMs: 1, jitter: 0 } },
    });
    bus.on('dead-lettered', (event) => void (reasons.push(event.reason), waiter.notify()));
    bus.endpoint(
      queue,
      (e) =>
        e.on(Job, () => {
          runs++;
          throw new Error('always fails');
        }),
      { maxDeliveries: 3 },
    );
    await bus.start();
    cleanup.push(async () => {
      await bus.stop();
      const admin = new RabbitMqTransport({ url: rabbitUrl }, { logger: silentLogger });
      await admin.connect();
      await admin.deleteQueue(queue);
      await admin.deleteTopic(Job.name);
      await admin.close();
    });
    const connection = await amqp.connect(rabbitUrl);
    cleanup.push(() => connection.close());
    const channel = await connection.createConfirmChannel();
    const envelope = createEnvelope({ type: Job.name, source: '/raw', kind: 'command', data: { n: 1 } });
    channel.sendToQueue(queue, Buffer.from(jsonCodec().encode(envelope)), {
      persistent: true,
      messageId: envelope.id,
      type: Job.name,
      contentType: 'application/cloudevents+json',
      headers: { 'x-missive-republished': -1000, 'missive-attempts': '999999', 'missive-redeliveries': '-1' },
    });
    await channel.waitForConfirms();
    await waiter.until(() => reasons.length === 1, 'the message dead-lettered');
    expect(reasons).toEqual(['MAX_DELIVERIES']);
    expect(runs).toBeLessThanOrEqual(3);
  }, 60_000);
});
