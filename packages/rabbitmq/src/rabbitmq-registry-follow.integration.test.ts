/**
 * A transport's registry reader must survive being set up twice. A publish to an exchange deleted
 * behind the transport's back makes the broker close the publisher channel (404), and the
 * connection is set up again, twice when the retried publish hits the 404 too. Each setup started a
 * second read of the registry beside the first on the same connection; when the two started at
 * once, the reader kept one read's consumer tag and the other's channel, skipped every record, and
 * every later read of that transport (a new type's wire-tap bindings, `queues()`) waited out its
 * 30 s for a marker it would never take. The broker showed it: three reader channels on the
 * connection, one holding the whole registry unacked, the current one delivering to no one.
 */
import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '@missive/core';
import { cleanupAfterEach, needRabbitMq, rabbitUrl } from './test-support/broker.js';
import { privateVhost, type PrivateVhost } from './test-support/vhost.js';
import { appendRecord, assertRegistry, REGISTRY_QUEUE, RegistryFollower, typesRecord } from './queue-registry.js';
import type { RabbitRegistry } from './rabbitmq-registry.js';
import { RabbitMqTransport } from './rabbitmq-transport.js';

const cleanup = cleanupAfterEach();
let vhost: PrivateVhost | undefined;
beforeAll(async () => void (vhost = await privateVhost(rabbitUrl)), 60_000);
afterAll(() => vhost?.remove());

/** The transport's registry (internal). */
const registryOf = (transport: RabbitMqTransport) => (transport as unknown as { registry: RabbitRegistry }).registry;

/**
 * `channel`, whose consume of the registry first calls `asked`, then waits for `until`, then calls
 * `done` once the broker has answered: lets a test order two reads' consumes without any timing.
 */
function ordered(channel: amqp.Channel, hooks: { asked?: () => void; until?: Promise<void>; done?: () => void }): amqp.Channel {
  return new Proxy(channel, {
    get(target, property) {
      if (property === 'consume')
        return async (...args: Parameters<amqp.Channel['consume']>) => {
          if (args[0] !== REGISTRY_QUEUE) return target.consume(...args);
          hooks.asked?.();
          await hooks.until;
          const reply = await target.consume(...args);
          hooks.done?.();
          return reply;
        };
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe('rabbitmq registry reader, set up again', () => {
  it('a second read started while the first still starts supersedes it: the reader reads', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const connection = await amqp.connect(vhost!.url);
    cleanup.push(() => connection.close());
    const writer = await connection.createChannel();
    await assertRegistry(writer);
    const follower = new RegistryFollower();
    let secondAsked!: () => void;
    const secondConsumes = new Promise<void>((resolve) => (secondAsked = resolve));
    let firstOver!: () => void;
    const firstConsumed = new Promise<void>((resolve) => (firstOver = resolve));
    // The order that left the reader dead: the second read asks for its consumer, then the first
    // one's is set up, then the second one's.
    const first = follower.follow(ordered(await connection.createChannel(), { until: secondConsumes, done: firstOver }));
    const second = follower.follow(ordered(await connection.createChannel(), { asked: secondAsked, until: firstConsumed }));
    void first.finally(firstOver); // superseded before it consumes, it never asks
    await Promise.all([first, second]);
    const type = `follow-${randomBytes(4).toString('hex')}.created`;
    await follower.sync((marker) => {
      appendRecord(writer, typesRecord([type]));
      appendRecord(writer, marker);
    });
    expect(follower.types.has(type)).toBe(true);
  }, 45_000);

  it('a publish that gets the publisher channel closed (404) leaves the transport its one reader, and it reads', async (ctx) => {
    if (!(await needRabbitMq(ctx))) return;
    const run = randomBytes(4).toString('hex');
    const type = `follow-${run}.gone`;
    const transport = new RabbitMqTransport({ url: vhost!.url }, { logger: silentLogger });
    await transport.connect();
    cleanup.push(() => transport.close());
    cleanup.push(() => transport.deleteTopic(type));
    await transport.publish(type, { id: 'before', type, body: Buffer.from('{}'), headers: {} }); // reads the registry
    const reads = vi.spyOn(registryOf(transport).view, 'follow');
    const other = await amqp.connect(vhost!.url);
    await (await other.createChannel()).deleteExchange(type); // behind the transport's back
    await other.close();
    await transport.publish(type, { id: 'after', type, body: Buffer.from('{}'), headers: {} }); // 404: the connection is set up again
    const registry = await registryOf(transport).catchUp();
    expect(reads, 'no second read of the registry beside the first').not.toHaveBeenCalled();
    expect(registry.types.has(type)).toBe(true);
  }, 45_000);
});
