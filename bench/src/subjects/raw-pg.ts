/**
 * The raw `pg` baseline with the PostgreSQL transport's guarantees and the same statement pattern:
 * one auto-committed insert per publish (durable when it resolves), a `NOTIFY` per event-loop turn
 * in its own statement, claims of up to the free prefetch with `FOR UPDATE SKIP LOCKED` and a lease
 * token in one statement, acks batched per turn in one token-checked delete (claims and acks commit
 * asynchronously, `synchronous_commit = off` on the consumer's sessions), a `LISTEN` wake-up and
 * a 1 s fallback poll. No envelope, no validation, no ordering keys, no delays, no dead letters.
 *
 * With `notifyInInsert` (for commits asynchronous, as the transport's `commit=async`), each insert
 * notifies in its own statement instead.
 *
 * Subject args: `url` (a postgres:// URL), `schema` (created, dropped by cleanup), `notifyInInsert`.
 * @module
 */
import pg from 'pg';
import type { Order } from '../harness/payload.js';
import type { CreateConsumer, CreatePublisher, SubjectArgs } from '../harness/subject.js';

const LEASE_MS = 30_000;

function table(args: SubjectArgs): string {
  return `"${String(args['schema'])}".queue`;
}

async function setup(pool: pg.Pool, args: SubjectArgs): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    await client.query('select pg_advisory_xact_lock(hashtext($1))', [String(args['schema'])]);
    await client.query(`create schema if not exists "${String(args['schema'])}"`);
    await client.query(
      `create table if not exists ${table(args)} (seq bigserial primary key, body bytea not null, lease_token uuid, lease_until bigint) with (fillfactor = 80)`,
    );
    await client.query('commit');
  } finally {
    client.release();
  }
}

const channel = (args: SubjectArgs) => `raw:${String(args['schema'])}`;

export const createPublisher: CreatePublisher = async (args) => {
  const pool = new pg.Pool({ connectionString: String(args['url']), max: 10 });
  await setup(pool, args);
  const insert = { name: 'raw-insert', text: `insert into ${table(args)} (body) values ($1)` };
  if (args['notifyInInsert'] === true) {
    const notifying = {
      name: 'raw-insert-notify',
      text: `with i as (insert into ${table(args)} (body) values ($1) returning 1) select pg_notify($2, '') from i`,
    };
    return {
      publish: async (order) => void (await pool.query({ ...notifying, values: [Buffer.from(JSON.stringify(order)), channel(args)] })),
      close: () => pool.end(),
    };
  }
  let notifying = false;
  return {
    publish: async (order) => {
      await pool.query({ ...insert, values: [Buffer.from(JSON.stringify(order))] });
      if (notifying) return;
      notifying = true;
      setImmediate(() => {
        notifying = false;
        pool.query('select pg_notify($1, $2)', [channel(args), '']).catch(() => undefined);
      });
    },
    close: () => pool.end(),
  };
};

export const createConsumer: CreateConsumer = async (args, onMessage) => {
  const pool = new pg.Pool({ connectionString: String(args['url']), max: 4 });
  // As the transport's consume pool: claims and acks commit without waiting for the WAL flush.
  pool.on('connect', (client) => void client.query('set synchronous_commit = off').catch(() => undefined));
  await setup(pool, args);
  const listener = new pg.Client({ connectionString: String(args['url']) });
  await listener.connect();
  await listener.query(`listen "${channel(args)}"`);
  const claim = {
    name: 'raw-claim',
    text: `with c as (select seq from ${table(args)} where lease_until is null or lease_until <= $1 order by seq limit $2 for update skip locked)
           update ${table(args)} q set lease_token = gen_random_uuid(), lease_until = $3 from c where q.seq = c.seq returning q.seq, q.body, q.lease_token`,
  };
  const ack = {
    name: 'raw-ack',
    text: `delete from ${table(args)} q using unnest($1::bigint[], $2::uuid[]) a(seq, token) where q.seq = a.seq and q.lease_token = a.token`,
  };
  let closed = false;
  let running = false;
  let again = false;
  /** The claim loop under way (close waits for it: a claim after the pool ended would throw). */
  let current: Promise<void> = Promise.resolve();
  const loop = () => {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    current = claimLoop().catch((error: unknown) => {
      if (!closed) throw error;
    });
  };
  const claimLoop = async () => {
    running = true;
    try {
      do {
        again = false;
        while (!closed) {
          const now = Date.now();
          const { rows } = await pool.query<{ seq: string; body: Buffer; lease_token: string }>({
            ...claim,
            values: [now, args.prefetch, now + LEASE_MS],
          });
          if (rows.length === 0 || closed) break;
          rows.sort((a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : 1));
          for (const row of rows) onMessage(JSON.parse(row.body.toString('utf8')) as Order);
          await pool.query({ ...ack, values: [rows.map((r) => r.seq), rows.map((r) => r.lease_token)] });
        }
      } while (again && !closed);
    } finally {
      running = false;
    }
  };
  listener.on('notification', loop);
  const poll = setInterval(loop, 1000);
  loop();
  return {
    close: async () => {
      closed = true;
      clearInterval(poll);
      await current;
      await listener.end();
      await pool.end();
    },
  };
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
