/**
 * NATS under faults: the connection cut mid-stream by the fault proxy, and nats-server killed and
 * started again mid-stream (a server of this test's own, on its own port and store). In both, the
 * transport reconnects, its consumer asks again, and every message whose publish was confirmed is
 * consumed; a publish whose confirmation was lost fails with a retryable `TransportError`, never
 * silently. A consumer process SIGKILLed mid-stream is covered by the conformance suite's process
 * cases (unordered and keyed).
 */
import { describe, expect, it } from 'vitest';
import { TransportError, silentLogger } from '@missive/core';
import type { Delivery } from '@missive/core/transport';
import { createWaiter, startFaultProxy } from '@missive/testing';
import { NatsTransport } from './nats-transport.js';
import { startOwnServer } from './test-support/own-server.js';
import { natsUrl, natsUrlFor, needNats, removePrefix, uniquePrefix } from './test-support/server.js';

const waiter = createWaiter({ timeoutMs: 60_000 });

/** Consumes `queue` into `received`, acking each; an ack lost in the fault is redelivered later. */
function drain(transport: NatsTransport, queue: string, received: Set<string>): { stop(): Promise<void> } {
  const consumer = transport.consume(queue, { prefetch: 50 });
  const loop = (async () => {
    for await (const delivery of consumer as AsyncIterable<Delivery>) {
      received.add(delivery.message.id);
      waiter.notify();
      await delivery.ack().catch(() => undefined);
    }
  })();
  return {
    async stop() {
      await consumer.close();
      await loop;
    },
  };
}

/** Publishes 20 batches of 20 at once, running `fault` before batch 7; returns the confirmed and failed ids. */
async function publishThrough(
  transport: NatsTransport,
  topic: string,
  fault: () => Promise<void> | void,
): Promise<{ confirmed: string[]; failed: string[] }> {
  const confirmed: string[] = [];
  const failed: string[] = [];
  for (let batch = 0; batch < 20; batch++) {
    if (batch === 7) await fault();
    await Promise.all(
      Array.from({ length: 20 }, (_, k) => {
        const id = `m-${batch * 20 + k}`;
        return transport.publish(topic, { id, type: 't', body: Buffer.from(id), headers: {} }).then(
          () => void confirmed.push(id),
          (error: unknown) => {
            expect(error).toBeInstanceOf(TransportError);
            expect((error as TransportError).retryable).toBe(true);
            failed.push(id);
          },
        );
      }),
    );
  }
  return { confirmed, failed };
}

describe('nats faults', () => {
  it('a connection cut mid-stream: reconnects, asks again, loses nothing that was confirmed', async (ctx) => {
    if (!(await needNats(ctx))) return;
    const target = new URL(natsUrl);
    const proxy = await startFaultProxy({ port: Number(target.port || 4222), host: target.hostname });
    const url = natsUrlFor(uniquePrefix(), { publishTimeout: '3000' }, `nats://127.0.0.1:${proxy.port}`);
    const transport = new NatsTransport({ url }, { logger: silentLogger });
    try {
      await transport.connect();
      await transport.declare({ name: 'cut', topics: ['cut.topic'] });
      const received = new Set<string>();
      const consumer = drain(transport, 'cut', received);
      const { confirmed, failed } = await publishThrough(transport, 'cut.topic', () => proxy.cut());
      await waiter.until(() => confirmed.every((id) => received.has(id)), `all ${confirmed.length} confirmed messages`);
      expect(confirmed.length + failed.length).toBe(400);
      expect(confirmed.length).toBeGreaterThan(300);
      expect(proxy.accepted).toBeGreaterThanOrEqual(2);
      await consumer.stop();
    } finally {
      await transport.close();
      await proxy.close();
      await removePrefix(natsUrlFor(new URL(url).searchParams.get('prefix')!));
    }
  }, 90_000);

  it('nats-server killed and started again mid-stream: every confirmed message is consumed', async () => {
    const server = await startOwnServer();
    const url = natsUrlFor(uniquePrefix(), { publishTimeout: '3000', ackWait: '3000' }, server.url);
    const transport = new NatsTransport({ url }, { logger: silentLogger });
    try {
      await transport.connect();
      await transport.declare({ name: 'restart', topics: ['restart.topic'] });
      const received = new Set<string>();
      const consumer = drain(transport, 'restart', received);
      const { confirmed, failed } = await publishThrough(transport, 'restart.topic', async () => {
        await server.kill('SIGKILL');
        await server.start();
      });
      await waiter.until(() => confirmed.every((id) => received.has(id)), `all ${confirmed.length} confirmed messages after the restart`);
      expect(confirmed.length + failed.length).toBe(400);
      expect(confirmed.length).toBeGreaterThan(300);
      await consumer.stop();
    } finally {
      await transport.close();
      await server.stop();
    }
  }, 120_000);
});
