/**
 * The prepared statements of one SQLite transport connection, made once at connect: every
 * per-message statement (publish, lease, ack, settle) is compiled once and only bound afterwards.
 *
 * @example
 * ```ts
 * const s = prepareStatements(db);
 * s.messageInsert.run(queue, id, type, body, headers, null);
 * ```
 * @module
 */
import type Database from 'better-sqlite3';

type Statement = Database.Statement;

/** The statements of a connection (see the SQL of each in `prepareStatements`). */
export interface SqliteStatements {
  readonly connectionUpsert: Statement;
  readonly connectionDelete: Statement;
  readonly connections: Statement;
  readonly releaseOwner: Statement;
  readonly ownedQueues: Statement;
  readonly bindingsVersion: Statement;
  readonly bumpBindings: Statement;
  readonly bindings: Statement;
  readonly queueInsert: Statement;
  readonly queueGet: Statement;
  readonly bindingInsert: Statement;
  readonly messageInsert: Statement;
  readonly scheduledInsert: Statement;
  readonly scheduledCancel: Statement;
  readonly promoteDue: Statement;
  readonly deleteDue: Statement;
  readonly leaseRows: Statement;
  readonly leaseExpired: Statement;
  readonly leaseMark: Statement;
  readonly extend: Statement;
  readonly ack: Statement;
  readonly nack: Statement;
  readonly deadLetterCopy: Statement;
  readonly look: Statement;
  readonly nextVisible: Statement;
  readonly nextLease: Statement;
  readonly nextDue: Statement;
  readonly queueRows: Statement;
  readonly consumerSeen: Statement;
  readonly consumersPrune: Statement;
  readonly consumersHeartbeat: Statement;
  readonly consumersGone: Statement;
  readonly consumersLeft: Statement;
  readonly consumerCounts: Statement;
  readonly queueCounts: Statement;
  readonly scheduledCounts: Statement;
  readonly deadCounts: Statement;
  /** Deletes a queue and everything of it, in this order. */
  readonly deleteQueue: readonly Statement[];
}

/** Prepares the transport's statements on `db`. */
export function prepareStatements(db: Database.Database): SqliteStatements {
  const prepare = (sql: string): Statement => db.prepare(sql);
  const raw = (sql: string): Statement => db.prepare(sql).raw(true);
  return {
    connectionUpsert: prepare(
      'insert into missive_connections (id, pid, heartbeat) values (?, ?, ?) on conflict (id) do update set heartbeat = excluded.heartbeat',
    ),
    connectionDelete: prepare('delete from missive_connections where id = ?'),
    connections: prepare('select id, pid, heartbeat from missive_connections'),
    // Held rows are found through missive_messages_held (a few per consumer), never by a table scan.
    releaseOwner: prepare(
      'update missive_messages indexed by missive_messages_held set lease_owner = null, lease_token = null, lease_until = null where lease_token is not null and lease_owner = ?',
    ),
    ownedQueues: prepare('select name from missive_queues where owner = ?'),
    bindingsVersion: prepare("select value from missive_meta where key = 'bindings_version'"),
    bumpBindings: prepare("update missive_meta set value = value + 1 where key = 'bindings_version'"),
    bindings: prepare('select queue, pattern from missive_bindings'),
    queueInsert: prepare('insert into missive_queues (name, owner, created_at) values (?, ?, ?) on conflict do nothing'),
    queueGet: prepare('select name, owner from missive_queues where name = ?'),
    bindingInsert: prepare('insert into missive_bindings (queue, pattern) values (?, ?) on conflict do nothing'),
    messageInsert: prepare('insert into missive_messages (queue, id, type, body, headers, partition_key) values (?, ?, ?, ?, ?, ?)'),
    scheduledInsert: prepare(
      'insert into missive_scheduled (queue, schedule_id, due, id, type, body, headers, partition_key) values (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    scheduledCancel: prepare('delete from missive_scheduled where schedule_id = ?'),
    promoteDue: prepare(
      'insert into missive_messages (queue, id, type, body, headers, partition_key) select queue, id, type, body, headers, partition_key from missive_scheduled where due <= ? order by due, seq',
    ),
    deleteDue: prepare('delete from missive_scheduled where due <= ?'),
    // A lease is two statements in the fetch's write transaction: `leaseRows` reads up to @limit
    // candidates from missive_messages_ready, which holds the un-blocked rows no one holds, so the
    // only rows it skips are delayed ones (never the messages queued behind a key or held by other
    // consumers); `leaseMark` then marks them by seq (@seqs: a JSON array). (One UPDATE ...
    // RETURNING cost 25% more CPU per row: RETURNING copies every row, its body included, before
    // handing it out.) `leaseExpired` reads held rows whose lease ran out at or before @expired, to
    // take them over (only when a timer asked: see SqliteTransport.pump). A count that is not a
    // whole number from 0 (written by something else) starts again from 0: `delivery_count` is read
    // as the count the mark writes.
    // Both read rows as arrays (\`raw\`): \`lease\` makes the objects, cheaper than better-sqlite3 does.
    leaseRows: raw(
      `select seq, id, type, body, headers, partition_key, (case when delivery_count >= 0 then delivery_count else 0 end) + 1 delivery_count
       from missive_messages
       where queue = @queue and blocked = 0 and lease_token is null and visible_at <= @now
       order by seq limit @limit`,
    ),
    leaseExpired: raw(
      `select seq, id, type, body, headers, partition_key, (case when delivery_count >= 0 then delivery_count else 0 end) + 1 delivery_count
       from missive_messages indexed by missive_messages_held
       where lease_token is not null and lease_until <= @expired and queue = @queue and blocked = 0 and visible_at <= @now
       order by seq limit @limit`,
    ),
    leaseMark: prepare(
      `update missive_messages set lease_owner = @owner, lease_token = @token, lease_until = @until,
         delivery_count = (case when delivery_count >= 0 then delivery_count else 0 end) + 1
       where seq in (select value from json_each(@seqs))`,
    ),
    extend: prepare(
      'update missive_messages indexed by missive_messages_held set lease_until = ? where lease_token is not null and lease_owner = ?',
    ),
    ack: prepare('delete from missive_messages where seq = ? and lease_token = ?'),
    nack: prepare(
      'update missive_messages set lease_owner = null, lease_token = null, lease_until = null, visible_at = @visible, headers = coalesce(@headers, headers), delivery_count = delivery_count - @undo where seq = @seq and lease_token = @token',
    ),
    deadLetterCopy: prepare(
      'insert into missive_dead_letters (queue, id, type, body, headers, partition_key, failure) select queue, id, type, body, headers, partition_key, ? from missive_messages where seq = ? and lease_token = ?',
    ),
    // Before a fetch, with plain reads (one statement): whether a scheduled message is due, and
    // whether @queue has a message to lease (one held past @expired counts when @expired > 0).
    look: prepare(
      `select exists (select 1 from missive_scheduled where due <= @now) due,
         exists (select 1 from missive_messages where queue = @queue and blocked = 0 and lease_token is null and visible_at <= @now)
         or (@expired > 0 and exists (select 1 from missive_messages indexed by missive_messages_held
           where lease_token is not null and lease_until <= @expired and queue = @queue and blocked = 0 and visible_at <= @now)) ready`,
    ),
    // `visible_at > 0` selects the partial index missive_messages_delayed (no table scan).
    nextVisible: prepare('select min(visible_at) t from missive_messages where visible_at > 0 and visible_at > ? and lease_token is null'),
    nextLease: prepare(
      'select min(lease_until) t from missive_messages indexed by missive_messages_held where lease_token is not null and lease_owner != ?',
    ),
    nextDue: prepare('select min(due) t from missive_scheduled'),
    queueRows: prepare('select name, created_at from missive_queues order by name'),
    consumerSeen: prepare(
      'insert into missive_consumers (queue, connection, active, seen_at) values (?, ?, ?, ?) on conflict (queue, connection) do update set active = excluded.active, seen_at = excluded.seen_at',
    ),
    consumersPrune: prepare(
      'delete from missive_consumers where active = 0 and seen_at < (select max(c.seen_at) from missive_consumers c where c.queue = missive_consumers.queue)',
    ),
    consumersHeartbeat: prepare('update missive_consumers set seen_at = ? where connection = ? and active = 1'),
    consumersGone: prepare('update missive_consumers set active = 0 where connection = ?'),
    consumersLeft: prepare('update missive_consumers set active = 0, seen_at = ? where connection = ? and active = 1'),
    consumerCounts: prepare(
      'select queue, sum(case when active = 1 and seen_at > ? then 1 else 0 end) n, max(seen_at) seen from missive_consumers group by queue',
    ),
    queueCounts: prepare(
      `select queue, sum(case when lease_token is not null and lease_until > ? then 1 else 0 end) held, count(*) total from missive_messages group by queue`,
    ),
    scheduledCounts: prepare('select queue, count(*) n from missive_scheduled group by queue'),
    deadCounts: prepare('select queue, count(*) n from missive_dead_letters group by queue'),
    deleteQueue: [
      prepare('delete from missive_messages where queue = ?'),
      prepare('delete from missive_scheduled where queue = ?'),
      prepare('delete from missive_dead_letters where queue = ?'),
      prepare('delete from missive_bindings where queue = ?'),
      prepare('delete from missive_command_owners where queue = ?'),
      prepare('delete from missive_consumers where queue = ?'),
      prepare('delete from missive_queues where name = ?'),
    ],
  };
}
