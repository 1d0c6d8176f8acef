/**
 * The SQL the transport runs, built once per schema. Each hot statement is one round trip and one
 * implicit transaction (a data-modifying CTE), named so `pg` prepares it once per connection.
 * Writes return the queues they touched; the transport notifies them in a separate statement
 * (with `commit: 'async'`, a publish or send outside a burst notifies in its own statement).
 *
 * @example
 * ```ts
 * const sql = statements('missive', 'missive:missive');
 * await pool.query({ ...sql.claim, values: [queue, now, room, owner, until] });
 * ```
 * @module
 */
import { ident } from './schema.js';

/** A named statement (prepared once per connection by `pg`). */
export interface Named {
  readonly name: string;
  readonly text: string;
}

/** A SQL string literal. */
function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** The statements of one schema. */
export type Statements = ReturnType<typeof statements>;

/** Builds the statements for `schema`, notifying on `channel`. */
export function statements(schema: string, channel: string) {
  const s = ident(schema);
  const named = (name: string, text: string): Named => ({ name: `missive.${schema}.${name}`, text });
  return {
    channel,
    /** $1 queues (or '' for "the schedule changed"). Run outside the writing transaction (see `notify` in the transport). */
    notify: named('notify', `select pg_notify($1, q) from unnest($2::text[]) q`),
    /** $1 topic, $2 id, $3 type, $4 body, $5 headers, $6 partition key. Returns one row per queue. */
    publish: named(
      'publish',
      `with q as (select distinct queue from ${s}.bindings where exact = $1 or (exact is null and '.' || $1 ~ regex)),
       ins as (insert into ${s}.messages (queue, id, type, body, headers, partition_key) select queue, $2, $3, $4, $5, $6 from q order by queue returning queue)
       select queue from ins`,
    ),
    /** As publish, with the `NOTIFY` of each queue in the same statement (commits asynchronous: no WAL flush holds the notify lock). */
    publishNotifying: named(
      'publish-notifying',
      `with q as (select distinct queue from ${s}.bindings where exact = $1 or (exact is null and '.' || $1 ~ regex)),
       ins as (insert into ${s}.messages (queue, id, type, body, headers, partition_key) select queue, $2, $3, $4, $5, $6 from q order by queue returning queue)
       select queue, pg_notify(${literal(channel)}, queue) from ins`,
    ),
    /** $1 topic, $2 due, $3 schedule id, then as publish. */
    publishLater: named(
      'publish-later',
      `with q as (select distinct queue from ${s}.bindings where exact = $1 or (exact is null and '.' || $1 ~ regex)),
       ins as (insert into ${s}.scheduled (queue, due, schedule_id, id, type, body, headers, partition_key) select queue, $2, $3, $4, $5, $6, $7, $8 from q order by queue returning queue)
       select queue from ins`,
    ),
    /** $1 queue, then as publish without the topic. Returns a row when the queue exists. */
    send: named(
      'send',
      `with q as (select name from ${s}.queues where name = $1),
       ins as (insert into ${s}.messages (queue, id, type, body, headers, partition_key) select name, $2, $3, $4, $5, $6 from q returning queue)
       select queue from ins`,
    ),
    /** As send, with the `NOTIFY` in the same statement (see publishNotifying). */
    sendNotifying: named(
      'send-notifying',
      `with q as (select name from ${s}.queues where name = $1),
       ins as (insert into ${s}.messages (queue, id, type, body, headers, partition_key) select name, $2, $3, $4, $5, $6 from q returning queue)
       select queue, pg_notify(${literal(channel)}, queue) from ins`,
    ),
    sendLater: named(
      'send-later',
      `with q as (select name from ${s}.queues where name = $1),
       ins as (insert into ${s}.scheduled (queue, due, schedule_id, id, type, body, headers, partition_key) select name, $2, $3, $4, $5, $6, $7, $8 from q returning queue)
       select queue from ins`,
    ),
    /** $1 queue, $2 now, $3 limit, $4 owner, $5 lease until. */
    claim: named(
      'claim',
      `with c as (
         select seq from ${s}.messages
         where queue = $1 and not blocked and visible_at <= $2 and (lease_until is null or lease_until <= $2)
         order by seq limit $3 for update skip locked)
       update ${s}.messages m set lease_owner = $4, lease_token = gen_random_uuid(), lease_until = $5, delivery_count = greatest(m.delivery_count, 0) + 1
       from c where m.seq = c.seq
       returning m.seq, m.id, m.type, m.body, m.headers, m.partition_key, m.delivery_count, m.lease_token`,
    ),
    /** $1 seqs, $2 tokens (pairwise). Returns the seqs deleted. */
    ack: named(
      'ack',
      `delete from ${s}.messages m using unnest($1::bigint[], $2::uuid[]) a(seq, token) where m.seq = a.seq and m.lease_token = a.token returning m.seq`,
    ),
    /** $1 seq, $2 token, $3 visible at, $4 headers or null, $5 delivery count to undo. */
    nack: named(
      'nack',
      `with u as (update ${s}.messages set lease_owner = null, lease_token = null, lease_until = null, visible_at = $3, headers = coalesce($4, headers), delivery_count = delivery_count - $5
         where seq = $1 and lease_token = $2 returning queue)
       select queue from u`,
    ),
    /** $1 seq, $2 token, $3 failure JSON. */
    deadLetter: named(
      'dead-letter',
      `with d as (delete from ${s}.messages where seq = $1 and lease_token = $2 returning seq, queue, id, type, body, headers, partition_key)
       insert into ${s}.dead_letters (queue, id, type, body, headers, partition_key, failure, message_seq) select queue, id, type, body, headers, partition_key, $3, seq from d`,
    ),
    /** $1 until, $2 seqs, $3 owner. */
    extend: named(
      'extend',
      `update ${s}.messages set lease_until = $1 where seq = any($2::bigint[]) and lease_owner = $3 and lease_token is not null`,
    ),
    /** $1 now. Moves due scheduled messages into their queues (in due order) and wakes them. */
    promote: named(
      'promote',
      `with d as (delete from ${s}.scheduled where seq in (select seq from ${s}.scheduled where due <= $1 order by due, seq limit 1000 for update skip locked)
         returning queue, due, seq, id, type, body, headers, partition_key),
       ins as (insert into ${s}.messages (queue, id, type, body, headers, partition_key) select queue, id, type, body, headers, partition_key from d order by due, seq returning queue)
       select distinct queue from ins`,
    ),
    /** $1 now. The next time something becomes due (a scheduled message, a delayed nack). */
    nextDue: named(
      'next-due',
      `select least((select min(due) from ${s}.scheduled), (select min(visible_at) from ${s}.messages where visible_at > $1)) t`,
    ),
    connectionUpsert: `insert into ${s}.connections (id, lock_key, heartbeat) values ($1, $2, $3) on conflict (id) do update set heartbeat = excluded.heartbeat, lock_key = excluded.lock_key`,
    connectionDelete: `delete from ${s}.connections where id = $1`,
    /** $1 own id, $2 lock space. Connections whose lock is free: their session is gone. */
    deadConnections: `select id, lock_key, heartbeat from ${s}.connections where id <> $1 and pg_try_advisory_xact_lock($2, lock_key)`,
    /** $1 owner. Releases every lease of a connection (a scan: runs only when one is reaped). */
    releaseOwner: `update ${s}.messages set lease_owner = null, lease_token = null, lease_until = null where lease_owner = $1 and lease_token is not null`,
    ownedQueues: `select name from ${s}.queues where owner = $1`,
    queueInsert: `insert into ${s}.queues (name, owner, created_at) values ($1, $2, $3) on conflict (name) do update set owner = coalesce(excluded.owner, ${s}.queues.owner)`,
    bindingInsert: `insert into ${s}.bindings (queue, pattern, exact, regex) values ($1, $2, $3, $4) on conflict do nothing`,
    cancelScheduled: `delete from ${s}.scheduled where schedule_id = $1`,
    queueRows: `select name, created_at, idle_since from ${s}.queues order by name`,
    bindings: `select queue, pattern from ${s}.bindings order by queue, pattern`,
    queueCounts: `select queue, count(*) filter (where lease_until > $1) held, count(*) total from ${s}.messages group by queue`,
    scheduledCounts: `select queue, count(*) n from ${s}.scheduled group by queue`,
    deadCounts: `select queue, count(*) n from ${s}.dead_letters group by queue`,
    /** $1 id, $2 now. */
    connectionBeat: `update ${s}.connections set heartbeat = $2 where id = $1`,
    /** $1 queue, $2 connection, $3 consumers. Returns a row when the queue exists. */
    consumersSet: named(
      'consumers-set',
      `insert into ${s}.consumers (queue, connection, n) select name, $2, $3 from ${s}.queues where name = $1
       on conflict (queue, connection) do update set n = excluded.n returning n`,
    ),
    /**
     * $1 queue or null (every queue), $2 connection, $3 when. Deletes the connection's consumer rows
     * and marks each queue left without consumers idle since $3.
     */
    consumersLeft: named(
      'consumers-left',
      `with d as (delete from ${s}.consumers where connection = $2 and ($1::text is null or queue = $1) returning queue)
       update ${s}.queues q set idle_since = $3 where q.name in (select queue from d)
         and not exists (select 1 from ${s}.consumers c where c.queue = q.name and c.connection <> $2)`,
    ),
    /** Consumers per queue, of registered connections only. */
    consumerCounts: `select c.queue, sum(c.n)::integer n from ${s}.consumers c join ${s}.connections k on k.id = c.connection group by c.queue`,
    /** $1 types, $2 queue, $3 service, $4 now. A claim without take-over: fails with unique_violation when another queue owns a type. */
    ownersClaim: `with wanted as (select distinct t as type from unnest($1::text[]) t)
       insert into ${s}.command_owners (type, queue, service, since)
       select w.type, $2, $3, $4 from wanted w where not exists (select 1 from ${s}.command_owners o where o.type = w.type and o.queue = $2)
       order by w.type`,
    /** $1 types, $2 queue, $3 service, $4 now, $5 exact topics, $6 regexes (as $1). A take-over; returns the types moved and from where. */
    ownersTakeOver: `with wanted as (select distinct w.type, w.exact, w.regex from unnest($1::text[], $5::text[], $6::text[]) w(type, exact, regex)),
       moved as (select o.type, o.queue, w.exact, w.regex from ${s}.command_owners o join wanted w on w.type = o.type where o.queue <> $2),
       up as (insert into ${s}.command_owners (type, queue, service, since) select type, $2, $3, $4 from wanted order by type
         on conflict (type) do update set queue = excluded.queue, service = excluded.service, since = excluded.since where ${s}.command_owners.queue <> excluded.queue),
       unbind as (delete from ${s}.bindings b using moved m where b.queue = m.queue and b.pattern = m.type),
       q as (insert into ${s}.queues (name, owner, created_at) select $2, null, $4 where exists (select 1 from moved) on conflict (name) do nothing),
       bind as (insert into ${s}.bindings (queue, pattern, exact, regex) select $2, type, exact, regex from moved on conflict do nothing)
       select type, queue from moved order by type`,
    /** $1 types. */
    ownersOf: `select type, queue from ${s}.command_owners where type = any($1::text[]) order by type`,
    owners: `select type, queue, service, since from ${s}.command_owners order by type`,
    deleteQueue: [
      `delete from ${s}.command_owners where queue = $1`,
      `delete from ${s}.consumers where queue = $1`,
      `delete from ${s}.messages where queue = $1`,
      `delete from ${s}.scheduled where queue = $1`,
      `delete from ${s}.dead_letters where queue = $1`,
      `delete from ${s}.bindings where queue = $1`,
      `delete from ${s}.queues where name = $1`,
    ],
  };
}

/** A topic pattern as a PostgreSQL regular expression over `'.' || topic` (AMQP topic semantics). */
export function patternRegex(pattern: string): string {
  const words = pattern.split('.').map((w) => (w === '*' ? '\\.[^.]+' : w === '#' ? '(\\.[^.]+)*' : `\\.${w}`));
  return `^${words.join('')}$`;
}
