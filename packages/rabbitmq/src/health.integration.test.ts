/**
 * Readiness follows the broker connection: a connection cut (and new connections refused) by the
 * TCP fault proxy turns `/readyz` to 503 with the reason, and the reconnect turns it back to 200.
 * The shared broker is never stopped.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createBus, defineEvent, serveHealth, silentLogger, type HealthReport } from '@missive/core';
import { createWaiter, startFaultProxy } from '@missive/testing';
import { cleanupAfterEach, needRabbitMq, rabbitUrl } from './test-support/broker.js';
import { RabbitMqTransport } from './rabbitmq-transport.js';

const cleanup = cleanupAfterEach();

describe('health over RabbitMQ', () => {
  it('readiness turns false when the connection is lost and true again when it is back', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const url = new URL(rabbitUrl);
    const proxy = await startFaultProxy({ port: Number(url.port || 5672), host: url.hostname });
    cleanup.push(() => proxy.close());
    const run = randomBytes(4).toString('hex');
    const endpoint = `health-${run}`;
    const Ping = defineEvent(`health.ping-${run}`, z.object({ n: z.number() }));
    const proxied = new URL(url.href);
    proxied.port = String(proxy.port);
    const bus = createBus({
      service: 'health',
      transport: new RabbitMqTransport({ url: proxied.href }, { logger: silentLogger }),
      logger: silentLogger,
    });
    const got: number[] = [];
    bus.endpoint(endpoint, (e) => e.on(Ping, (m) => void got.push(m.n)));
    await bus.start();
    cleanup.push(async () => {
      const admin = new RabbitMqTransport({ url: rabbitUrl }, { logger: silentLogger });
      await admin.connect();
      await admin.deleteQueue(endpoint);
      await admin.deleteTopic(Ping.name);
      await admin.close();
    });
    cleanup.push(() => bus.stop({ timeoutMs: 0 }));
    const server = await serveHealth(bus);
    cleanup.push(() => server.close());
    const readyz = async () => {
      const response = await fetch(new URL('readyz', server.url));
      return { status: response.status, report: (await response.json()) as HealthReport };
    };
    const waiter = createWaiter({ timeoutMs: 30_000 });

    const before = await readyz();
    expect(before.status).toBe(200);
    expect(before.report).toMatchObject({
      live: true,
      ready: true,
      reasons: [],
      transport: { connected: true },
      endpoints: { [endpoint]: { running: true, ready: true, circuit: 'closed' } },
    });

    proxy.refuse(true);
    proxy.cut();
    await waiter.until(() => !bus.health().ready, 'readiness turns false');
    const during = await readyz();
    expect(during.status).toBe(503);
    expect(during.report.live).toBe(true);
    expect(during.report.transport.connected).toBe(false);
    expect(during.report.reasons.join('; ')).toMatch(/^transport: rabbitmq connection lost/);
    expect(JSON.stringify(during.report)).not.toContain('guest:guest');
    expect((await fetch(new URL('healthz', server.url))).status).toBe(200);

    proxy.refuse(false);
    await waiter.until(() => bus.health().ready, 'readiness turns true again');
    expect((await readyz()).status).toBe(200);
    // And the consumer really works again.
    await bus.publish(Ping, { n: 1 });
    await waiter.until(() => got.length === 1, 'a message after the reconnect');
  }, 60_000);
});
