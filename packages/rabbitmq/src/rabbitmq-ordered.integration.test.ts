/**
 * Ordered endpoints on RabbitMQ, beyond the conformance cases: a second instance's `bus.start`
 * returns only once it owns its share of the partitions, so keyed work sent right after reaches both.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createBus, defineCommand, silentLogger, type Bus } from '@missive/core';
import { z } from 'zod';
import { PARTITIONS, partitionOf } from './partitions.js';
import { RabbitMqTransport } from './rabbitmq-transport.js';
import { cleanupAfterEach, needRabbitMq, rabbitUrl } from './test-support/broker.js';

const url = rabbitUrl;
const cleanup = cleanupAfterEach();


/** One key per partition: `keys[p]` hashes to partition p. */
function keyPerPartition(): string[] {
  const keys: (string | undefined)[] = new Array<string | undefined>(PARTITIONS).fill(undefined);
  for (let i = 0; keys.includes(undefined); i++) {
    const key = `k${i}`;
    keys[partitionOf(key)] ??= key;
  }
  return keys as string[];
}

describe('rabbitmq ordered endpoints', () => {
  it("a joining instance's start returns once it owns its share of the partitions", async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const run = randomBytes(4).toString('hex');
    const endpoint = `ordered-ready-${run}`;
    const Work = defineCommand(`ordered-ready-${run}.work`, z.object({ key: z.string() }), { partitionKey: (m) => m.key });
    const started: Record<string, string[]> = { first: [], second: [] };
    let releaseAll!: () => void;
    const hold = new Promise<void>((resolve) => {
      releaseAll = resolve;
    });
    const instance = (name: 'first' | 'second'): Bus => {
      const bus = createBus({ service: `ordered-ready-${name}`, transport: url, logger: silentLogger });
      // Handlers hold their message until the end: an owner cannot hand a busy partition over, so
      // whatever each instance owns when the messages arrive is what it keeps.
      bus.endpoint(endpoint, (e) => e.on(Work, async (m) => {
        started[name]!.push(m.key);
        await hold;
      }), { prefetch: PARTITIONS, concurrency: PARTITIONS });
      return bus;
    };
    cleanup.push(async () => {
      const admin = new RabbitMqTransport({ url }, { logger: silentLogger });
      await admin.connect();
      await admin.deleteQueue(endpoint);
      await admin.deleteTopic(Work.name);
      await admin.close();
    });
    const first = instance('first');
    await first.start();
    cleanup.push(() => first.stop());
    const second = instance('second');
    await second.start();
    cleanup.push(async () => {
      releaseAll();
      await second.stop();
    });
    await Promise.all(keyPerPartition().map((key) => second.send(Work, { key })));
    const deadline = Date.now() + 20_000;
    while (started.first!.length + started.second!.length < PARTITIONS && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(started.first!.length + started.second!.length).toBe(PARTITIONS);
    expect(started.first).toHaveLength(PARTITIONS / 2);
    expect(started.second).toHaveLength(PARTITIONS / 2);
    releaseAll();
  }, 60_000);
});
