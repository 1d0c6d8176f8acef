/**
 * A consumer closed while its blocking read is answered: the read took a message (Redis put it in
 * the consumer's pending entries) but its reply came after close stopped waiting for it (`CLIENT
 * UNBLOCK` and the loop are waited on for at most 200 ms; here the process is stalled past that,
 * as a loaded machine may). That message must not stay pending under the closed consumer's name
 * until another consumer reclaims it after `claimIdle` (30 s by default), one delivery closer to
 * `maxDeliveries` though no handler saw it: close gives it back, uncounted.
 */
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { silentLogger } from '@missive/core';
import { createWaiter } from '@missive/testing';
import { GROUP } from './keys.js';
import { RedisTransport } from './redis-transport.js';
import { cleanupAfterEach, deletePrefix, needRedis, redisUrl, uniquePrefix } from './test-support/redis.js';

const cleanup = cleanupAfterEach();
const waiter = createWaiter({ timeoutMs: 30_000 });

/** Whether a blocking-read connection opened after `sinceId` is blocked in `XREADGROUP` now. */
async function blockedReader(raw: Redis, sinceId: number): Promise<boolean> {
  const list = (await raw.call('CLIENT', 'LIST', 'TYPE', 'normal')) as string;
  return list.split('\n').some((line) => {
    const id = Number(/(?:^| )id=(\d+)/.exec(line)?.[1]);
    return id > sinceId && line.includes(' name=missive-wait ') && line.includes(' cmd=xreadgroup') && / flags=\S*b/.test(line);
  });
}

/** Blocks this process's event loop for `ms` (a stalled process: nothing it was sent is read meanwhile). */
function stall(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

describe('redis close, a read answered too late', () => {
  it('the message a blocking read took is given back at close, not left pending under the closed consumer until claimIdle', async (ctx) => {
    if (!(await needRedis(ctx))) return;
    const prefix = uniquePrefix();
    cleanup.push(() => deletePrefix(redisUrl, prefix));
    const raw = new Redis(redisUrl);
    cleanup.push(() => void raw.disconnect());
    const transport = new RedisTransport({ url: redisUrl, prefix }, { logger: silentLogger });
    await transport.connect();
    cleanup.push(() => transport.close());
    await transport.declare({ name: 'work', topics: [] });
    const stream = transport.keys.stream('work');

    const since = Number(await raw.client('ID'));
    const consumer = transport.consume('work', { prefetch: 10 });
    await waiter.eventually(
      () => blockedReader(raw, since),
      (blocked) => blocked,
      'the consumer to wait in its blocking read',
    );
    // In a check-phase callback: the timers phase (close's 200 ms bound) comes before the next poll
    // (the replies) once the stall ends.
    await new Promise((resolve) => setImmediate(resolve));
    // On the command connection, in this order: the send (Redis hands the message to the blocked
    // read at once), then close's UNBLOCK (the read is no longer blocked: nothing to unblock).
    const sending = transport.send('work', { id: 'm-1', type: 'stranded.one', body: Buffer.from('one'), headers: {} });
    const closing = consumer.close();
    stall(400);
    await sending;
    await closing;

    // Nothing pending in the group: the message is back in the stream, and not counted as a delivery.
    expect(await raw.xpending(stream, GROUP)).toEqual([0, null, null, null]);
    const next = transport.consume('work', { prefetch: 10 });
    cleanup.push(() => next.close());
    for await (const delivery of next) {
      expect(delivery.message.id).toBe('m-1');
      expect(delivery.deliveryCount).toBe(1);
      await delivery.ack();
      break;
    }
  });
});
