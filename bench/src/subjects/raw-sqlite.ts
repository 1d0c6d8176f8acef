/**
 * The raw better-sqlite3 baseline with the SQLite transport's guarantees: one file in WAL mode, the
 * same `synchronous` setting, one transaction per publish, leases taken in a `BEGIN IMMEDIATE`
 * transaction (up to the consumer's free prefetch), one delete per ack (checking the lease token),
 * so a crashed consumer's messages come back when its lease runs out. Consumers poll every 1 ms when
 * the queue is empty. Nothing is validated.
 *
 * Subject args: `path` (database file), `synchronous` (`FULL` | `NORMAL`).
 * @module
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Order } from '../harness/payload.js';
import type { CreateConsumer, CreatePublisher, SubjectArgs } from '../harness/subject.js';

const LEASE_MS = 30_000;

function open(args: SubjectArgs): Database.Database {
  const db = new Database(String(args['path']));
  db.pragma('busy_timeout = 5000');
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${args['synchronous'] === 'NORMAL' ? 'NORMAL' : 'FULL'}`);
  db.exec(
    'create table if not exists queue (seq integer primary key autoincrement, body blob not null, lease_token text, lease_until integer)',
  );
  return db;
}

export const createPublisher: CreatePublisher = async (args) => {
  const db = open(args);
  const insert = db.prepare('insert into queue (body) values (?)');
  return {
    publish: async (order) => {
      insert.run(Buffer.from(JSON.stringify(order)));
    },
    close: async () => {
      db.close();
    },
  };
};

export const createConsumer: CreateConsumer = async (args, onMessage) => {
  const db = open(args);
  const candidates = db.prepare('select seq, body from queue where lease_token is null or lease_until <= ? order by seq limit ?');
  const lease = db.prepare('update queue set lease_token = ?, lease_until = ? where seq = ?');
  const ack = db.prepare('delete from queue where seq = ? and lease_token = ?');
  const fetch = db.transaction((limit: number) => {
    const now = Date.now();
    const rows = candidates.all(now, limit) as { seq: number; body: Buffer }[];
    const token = randomUUID();
    for (const row of rows) lease.run(token, now + LEASE_MS, row.seq);
    return rows.map((row) => ({ ...row, token }));
  });
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  const loop = () => {
    if (closed) return;
    let rows: { seq: number; body: Buffer; token: string }[];
    try {
      rows = fetch.immediate(args.prefetch);
    } catch (error) {
      if ((error as { code?: string }).code !== 'SQLITE_BUSY') throw error;
      rows = [];
    }
    for (const row of rows) {
      onMessage(JSON.parse(row.body.toString('utf8')) as Order);
      ack.run(row.seq, row.token);
    }
    if (rows.length > 0) setImmediate(loop);
    else timer = setTimeout(loop, 1);
  };
  loop();
  return {
    close: async () => {
      closed = true;
      clearTimeout(timer);
      db.close();
    },
  };
};

export async function cleanup(args: SubjectArgs): Promise<void> {
  const path = String(args['path']);
  for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
}
