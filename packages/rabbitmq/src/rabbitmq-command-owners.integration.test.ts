/**
 * Command ownership on RabbitMQ beyond the conformance cases: a take-over from an ordered endpoint
 * (its partition queues are unbound too), and a deposed owner that reconnects (it declares its
 * bindings again, then removes those of the type it lost once it has read the registry).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CommandOwnerConflictError, createBus, defineCommand, silentLogger, type Logger } from '@missive/core';
import { createWaiter, startFaultProxy } from '@missive/testing';
import { z } from 'zod';
import { cleanupAfterEach, needRabbitMq, rabbitUrl } from './test-support/broker.js';
import { RabbitMqTransport } from './rabbitmq-transport.js';
import { claimRecord } from './command-claims.js';
import { ABANDONED_AFTER_MS } from './rabbitmq-command-owners.js';
import { REGISTRY_QUEUE } from './queue-registry.js';

const cleanup = cleanupAfterEach();
const Job = z.object({ n: z.number(), key: z.string().optional() });

const until = createWaiter({ timeoutMs: 30_000 }).until;

function names() {
  const run = randomBytes(4).toString('hex');
  return { run, old: `owners-old-${run}`, next: `owners-new-${run}` };
}

async function admin(): Promise<RabbitMqTransport> {
  const transport = new RabbitMqTransport({ url: rabbitUrl }, { logger: silentLogger });
  await transport.connect();
  cleanup.push(() => transport.close());
  return transport;
}

describe('rabbitmq command owners', () => {
  it('a take-over from an ordered endpoint unbinds its partitions too: keyed and unkeyed commands reach only the new owner', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const { run, old, next } = names();
    const Keyed = defineCommand(`owners-${run}.keyed`, Job, { partitionKey: (m) => m.key ?? 'none' });
    const operator = await admin();
    cleanup.push(() => operator.deleteTopic(Keyed.name));
    cleanup.push(() => operator.deleteQueue(old));
    cleanup.push(() => operator.deleteQueue(next));
    const before = createBus({ service: 'old', transport: rabbitUrl, logger: silentLogger });
    before.endpoint(old, (e) => e.on(Keyed, () => undefined));
    await before.start();
    await before.stop();
    const got: number[] = [];
    const after = createBus({ service: 'new', transport: rabbitUrl, logger: silentLogger });
    after.endpoint(next, (e) => e.on(Keyed, (m) => void got.push(m.n)), { takeOver: true });
    await after.start();
    cleanup.push(() => after.stop());
    for (let n = 0; n < 8; n++) await after.send(Keyed, { n, key: n % 2 === 0 ? `k-${n}` : undefined });
    await until(() => got.length === 8, 'eight commands on the new owner');
    // Depth counts the main queue and the sixteen partitions: a send resolves once routed, so nothing came.
    expect((await operator.queues()).find((q) => q.name === old)).toMatchObject({ depth: 0, topics: [] });
    expect((await operator.commandOwners!.owners()).find((o) => o.type === Keyed.name)).toMatchObject({ queue: next, service: 'new' });
  }, 60_000);

  it('a deposed owner that reconnects removes the bindings it declared again', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const { run, old, next } = names();
    const Plain = defineCommand(`owners-${run}.plain`, Job);
    const operator = await admin();
    cleanup.push(() => operator.deleteTopic(Plain.name));
    cleanup.push(() => operator.deleteQueue(old));
    cleanup.push(() => operator.deleteQueue(next));
    const url = new URL(rabbitUrl);
    const proxy = await startFaultProxy({ port: Number(url.port || 5672), host: url.hostname });
    cleanup.push(() => proxy.close());
    url.port = String(proxy.port);
    const lines: string[] = [];
    // Takes `(message)` and pino's `(fields, message)` alike.
    const info: Logger['info'] = (first: unknown, second?: unknown) => void lines.push(typeof first === 'string' ? first : String(second));
    const logger: Logger = { ...silentLogger, info };
    const stale = createBus({ service: 'old', transport: new RabbitMqTransport({ url: url.href }, { logger }), logger: silentLogger });
    stale.endpoint(old, (e) => e.on(Plain, () => undefined));
    await stale.start();
    cleanup.push(() => stale.stop());
    const got: number[] = [];
    const after = createBus({ service: 'new', transport: rabbitUrl, logger: silentLogger });
    after.endpoint(next, (e) => e.on(Plain, (m) => void got.push(m.n)), { takeOver: true });
    await after.start();
    cleanup.push(() => after.stop());
    proxy.cut(); // the deposed owner reconnects, declares its queue and bindings again
    await until(
      () => lines.some((l) => l.includes(`endpoint ${old} lost ${Plain.name} to endpoint ${next}`)),
      'the deposed owner to remove its bindings again',
    );
    await stale.stop();
    for (let n = 0; n < 5; n++) await after.send(Plain, { n });
    await until(() => got.length === 5, 'five commands on the new owner');
    expect((await operator.queues()).find((q) => q.name === old)).toMatchObject({ depth: 0 });
  }, 60_000);

  it('an owner whose queue is gone is respected while its claim is fresh, and released once it is old', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const { run, old, next } = names();
    const Fresh = defineCommand(`owners-${run}.fresh`, Job);
    const Stale = defineCommand(`owners-${run}.stale`, Job);
    const operator = await admin();
    for (const type of [Fresh.name, Stale.name]) cleanup.push(() => operator.deleteTopic(type));
    cleanup.push(() => operator.deleteQueue(next));
    cleanup.push(() => operator.deleteQueue(old));
    // Claims whose endpoint never declared its queue (or whose queue was deleted with rabbitmqctl).
    const channel = await operator.newChannel();
    for (const [type, at] of [
      [Fresh.name, Date.now()],
      [Stale.name, Date.now() - ABANDONED_AFTER_MS - 1000],
    ] as const) {
      channel.sendToQueue(
        REGISTRY_QUEUE,
        claimRecord({ claim: `ghost-${type}`, queue: old, service: 'ghost', types: [type], takeOver: false, at }),
        { persistent: true },
      );
    }
    await channel.close();
    const refused = createBus({ service: 'new', transport: rabbitUrl, logger: silentLogger });
    refused.endpoint(next, (e) => e.on(Fresh, () => undefined));
    const error = await refused.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CommandOwnerConflictError);
    expect((error as Error).message).toContain(`the queue of "${old}" no longer exists on the broker`);
    const got: number[] = [];
    const taker = createBus({ service: 'new', transport: rabbitUrl, logger: silentLogger });
    taker.endpoint(next, (e) => e.on(Stale, (m) => void got.push(m.n)));
    await taker.start();
    cleanup.push(() => taker.stop());
    await taker.send(Stale, { n: 1 });
    await until(() => got.length === 1, 'the command on the new owner');
    expect((await operator.commandOwners!.owners()).find((o) => o.type === Stale.name)).toMatchObject({ queue: next });
  }, 60_000);
});
