/**
 * BullMQ on Redis, the job-queue comparison: `queue.add` resolves once Redis has the job; a Worker
 * with `concurrency = args.concurrency` runs the handler and completes the job (removed on completion,
 * as a bus acks). Durability differs: the Redis on this machine keeps nothing on disk (no AOF, no RDB).
 *
 * @module
 */
import { Queue, Worker } from 'bullmq';
import { REDIS_URL } from '../../../dist/harness/machine.js';
import type { Order } from '../../../dist/harness/payload.js';
import type { CreateConsumer, CreatePublisher, SubjectArgs } from '../../../dist/harness/subject.js';

const connection = () => {
  const url = new URL(REDIS_URL);
  return { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null };
};

export const createPublisher: CreatePublisher = async (args) => {
  const queue = new Queue(args.name, { connection: connection(), defaultJobOptions: { removeOnComplete: true, removeOnFail: 1000 } });
  await queue.waitUntilReady();
  return {
    publish: async (order) => {
      await queue.add('order', order);
    },
    close: () => queue.close(),
  };
};

export const createConsumer: CreateConsumer = async (args, onMessage) => {
  const worker = new Worker(
    args.name,
    async (job) => {
      onMessage(job.data as Order);
    },
    { connection: connection(), concurrency: args.concurrency },
  );
  await worker.waitUntilReady();
  return { close: () => worker.close() };
};

export async function cleanup(args: SubjectArgs): Promise<void> {
  const queue = new Queue(args.name, { connection: connection() });
  await queue.obliterate({ force: true });
  await queue.close();
}
