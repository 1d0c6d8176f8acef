/**
 * pg-boss 10 (the PostgreSQL job queue Node teams use today) as a peer: `send` per message, a
 * worker per consumer fetching batches of the prefetch size (`work` with `batchSize`), polling every
 * 0.5 s (its minimum; it has no LISTEN wake-up in this version), jobs completed per batch.
 *
 * A peer: installed by `npm run bench` in `bench/peers`, never by the workspace's `npm install`.
 * Subject args: `url` (a postgres:// URL), `schema` (pg-boss's own, dropped by cleanup).
 * @module
 */
import PgBoss from 'pg-boss';
import pg from 'pg';
import type { Order } from '../../../dist/harness/payload.js';
import type { CreateConsumer, CreatePublisher, SubjectArgs } from '../../../dist/harness/subject.js';

async function boss(args: SubjectArgs): Promise<PgBoss> {
  const b = new PgBoss({
    connectionString: String(args['url']),
    schema: String(args['schema']),
    supervise: false,
    schedule: false,
    max: 10,
  });
  b.on('error', () => undefined);
  await b.start();
  await b.createQueue(args.name);
  return b;
}

export const createPublisher: CreatePublisher = async (args) => {
  const b = await boss(args);
  return {
    publish: async (order) => {
      await b.send(args.name, order);
    },
    close: () => b.stop({ graceful: false, wait: true }),
  };
};

export const createConsumer: CreateConsumer = async (args, onMessage) => {
  const b = await boss(args);
  await b.work<Order>(args.name, { batchSize: args.prefetch, pollingIntervalSeconds: 0.5 }, async (jobs) => {
    for (const job of jobs) onMessage(job.data);
  });
  return { close: () => b.stop({ graceful: false, wait: true }) };
};

export async function cleanup(args: SubjectArgs): Promise<void> {
  const client = new pg.Client({ connectionString: String(args['url']) });
  await client.connect();
  try {
    await client.query(`drop schema if exists "${String(args['schema'])}" cascade`);
  } finally {
    await client.end();
  }
}
