/**
 * The raw ioredis baseline with Missive's guarantees on Redis Streams: `XADD` resolves once Redis
 * has the entry; a consumer group read (`XREADGROUP`, COUNT = prefetch) hands out at most the
 * prefetch; each read's entries are acked after their handler with one `XACK` and deleted with one
 * `XDEL` (Missive also deletes on ack, so neither stream grows). The body is the JSON of the
 * payload; nothing is validated, nothing is routed (the publisher writes the consumer's stream),
 * and there is no reclaiming of a dead consumer's entries, no delivery-count check on ack and no
 * per-key order: what Missive adds is what this comparison prices.
 *
 * Stream `bench-raw:<name>`, group `bench`.
 * @module
 */
import { Redis } from 'ioredis';
import { REDIS_URL } from '../harness/machine.js';
import type { Order } from '../harness/payload.js';
import type { CreateConsumer, CreatePublisher, SubjectArgs } from '../harness/subject.js';

const GROUP = 'bench';
const streamOf = (args: SubjectArgs) => `bench-raw:${args.name}`;

async function group(redis: Redis, stream: string): Promise<void> {
  try {
    await redis.xgroup('CREATE', stream, GROUP, '0', 'MKSTREAM');
  } catch (error) {
    if (!(error as Error).message.startsWith('BUSYGROUP')) throw error;
  }
}

export const createPublisher: CreatePublisher = async (args) => {
  const redis = new Redis(REDIS_URL, { enableAutoPipelining: true });
  const stream = streamOf(args);
  await group(redis, stream);
  return {
    publish: async (order) => {
      await redis.xadd(stream, '*', 'b', JSON.stringify(order));
    },
    close: async () => void (await redis.quit()),
  };
};

export const createConsumer: CreateConsumer = async (args, onMessage) => {
  const redis = new Redis(REDIS_URL);
  const stream = streamOf(args);
  await group(redis, stream);
  let running = true;
  const loop = (async () => {
    while (running) {
      const reply = (await redis.xreadgroup('GROUP', GROUP, 'raw', 'COUNT', args.prefetch, 'BLOCK', 200, 'STREAMS', stream, '>')) as
        [string, [string, string[]][]][] | null;
      if (reply === null) continue;
      const ids: string[] = [];
      for (const [id, fields] of reply[0]![1]) {
        onMessage(JSON.parse(fields[1]!) as Order);
        ids.push(id);
      }
      void redis.xack(stream, GROUP, ...ids);
      void redis.xdel(stream, ...ids);
    }
  })();
  return {
    close: async () => {
      running = false;
      await loop;
      await redis.quit();
    },
  };
};

export async function cleanup(args: SubjectArgs): Promise<void> {
  const redis = new Redis(REDIS_URL);
  await redis.del(streamOf(args));
  await redis.quit();
}
