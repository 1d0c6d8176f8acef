import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createWaiter } from '@missive/testing';
import { createBus } from '../bus/bus.js';
import { defineEvent } from '../contracts/contract.js';
import { silentLogger } from '../logger.js';
import { MemoryBroker } from '../transport/memory/memory-broker.js';
import type { Consumer, Delivery, Transport } from '../transport/transport.js';
import { serveHealth } from './health-server.js';

const Ping = defineEvent('health.ping', z.object({ n: z.number() }));

/** The memory transport, with consumers whose loop the test can break (as a broker error would). */
function breakableTransport(): { transport: Transport; breakConsumers(error: Error): void } {
  const inner = new MemoryBroker().transport();
  const breakers = new Set<(error: Error) => void>();
  const consume = (queue: string, options: { prefetch: number }): Consumer => {
    const consumer = inner.consume(queue, options);
    let broken: Error | undefined;
    let wake: (() => void) | undefined;
    breakers.add((error) => {
      broken = error;
      wake?.();
    });
    return {
      ready: consumer.ready,
      close: () => consumer.close(),
      async *[Symbol.asyncIterator](): AsyncIterator<Delivery> {
        const iterator = consumer[Symbol.asyncIterator]();
        for (;;) {
          const next = iterator.next();
          const stop = new Promise<'broken'>((resolve) => (wake = () => resolve('broken')));
          const result = await Promise.race([next, stop]);
          if (result === 'broken' || broken !== undefined) throw broken!;
          if (result.done === true) return;
          yield result.value;
        }
      },
    };
  };
  const transport: Transport = {
    kind: inner.kind,
    capabilities: inner.capabilities,
    deadLetters: inner.deadLetters,
    connect: () => inner.connect(),
    close: () => inner.close(),
    declare: (spec) => inner.declare(spec),
    publish: (topic, message, options) => inner.publish(topic, message, options),
    send: (queue, message, options) => inner.send(queue, message, options),
    consume,
    cancelScheduled: (id) => inner.cancelScheduled(id),
    queues: () => inner.queues(),
    deleteQueue: (name) => inner.deleteQueue(name),
  };
  return { transport, breakConsumers: (error) => breakers.forEach((b) => b(error)) };
}

describe('bus.health() and the health server', () => {
  it('not ready before start; ready when started; a consumer loop that dies makes /readyz 503 with the reason', async () => {
    const { transport, breakConsumers } = breakableTransport();
    const bus = createBus({ service: 'shop', transport, logger: silentLogger });
    bus.endpoint('billing', (e) => e.on(Ping, () => undefined));
    const server = await serveHealth(bus);
    try {
      expect(bus.health()).toMatchObject({ live: false, ready: false, reasons: ['bus is new', 'transport: the bus is new'] });
      await bus.start();
      const ok = await fetch(new URL('readyz', server.url));
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({
        ready: true,
        endpoints: { billing: { running: true, ready: true, circuit: 'closed', inFlight: 0 } },
      });

      breakConsumers(new Error('channel closed by the broker'));
      await createWaiter().until(() => !bus.health().ready, 'readiness turns false');
      const down = await fetch(new URL('readyz', server.url));
      expect(down.status).toBe(503);
      const report = (await down.json()) as { reasons: string[]; live: boolean };
      expect(report.reasons).toEqual(['endpoint billing: consumer stopped (channel closed by the broker)']);
      expect((await fetch(new URL('healthz', server.url))).status).toBe(200);
      expect((await fetch(new URL('metrics', server.url))).status).toBe(404);
    } finally {
      await server.close();
      await bus.stop();
    }
    expect(bus.health()).toMatchObject({ live: false, ready: false });
  });
});
