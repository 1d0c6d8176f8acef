/**
 * The Redis keys of one bus (one prefix). Queue names are letters, digits, `.`, `-`, `_`, `:`, so
 * `|` can separate a queue from a partition key without ambiguity.
 *
 * | key | type | holds |
 * | --- | --- | --- |
 * | `<p>queues` | hash | queue name → owner connection id (`""` for a durable queue) |
 * | `<p>bindings` | set | `queue\ttopic-pattern` |
 * | `<p>bver` | string | routing version, bumped on every binding change |
 * | `<p>q:<queue>` | stream | the queue: undelivered and pending entries (acked ones are deleted) |
 * | `<p>l:<queue>` | hash | partition key → token of the message that holds it |
 * | `<p>w:<queue>\|<key>` | list | messages waiting for their key (msgpack), in order |
 * | `<p>wk:<queue>` | set | partition keys with waiting messages |
 * | `<p>dl:<queue>` | stream | dead letters with their failure |
 * | `<p>dli:<queue>` | hash | message id → dead-letter entry id |
 * | `<p>batched` | hash | stream key → messages beyond one per batch entry in it |
| `<p>bs:<queue>` | hash | pending batch entry id → its messages already nacked or dead-lettered, `,i,j,` (1-based) |
 * | `<p>delayed` | sorted set | delayed record id → due time (epoch ms) |
 * | `<p>d:<rid>` | hash | one delayed message and its queue |
 * | `<p>dq:<queue>` | set | the queue's delayed record ids |
 * | `<p>s:<scheduleId>` | set | the delayed record ids of one schedule |
 * | `<p>conn:<id>` | string with TTL | a live connection (owner of temporary queues) |
 *
 * @example
 * ```ts
 * const keys = new Keys('missive:');
 * keys.stream('billing'); // 'missive:q:billing'
 * ```
 * @module
 */

/** The consumer group every queue stream has. */
export const GROUP = 'missive';

/** Key names under one prefix. */
export class Keys {
  readonly queues: string;
  readonly bindings: string;
  readonly version: string;
  readonly delayed: string;
  /** Hash: stream key → messages beyond the first of its batch entries (so depth counts messages). */
  readonly batched: string;

  constructor(readonly prefix: string) {
    this.queues = `${prefix}queues`;
    this.bindings = `${prefix}bindings`;
    this.version = `${prefix}bver`;
    this.delayed = `${prefix}delayed`;
    this.batched = `${prefix}batched`;
  }

  stream(queue: string): string {
    return `${this.prefix}q:${queue}`;
  }

  locks(queue: string): string {
    return `${this.prefix}l:${queue}`;
  }

  /** Prefix of the queue's waiting lists; the partition key follows. */
  waiting(queue: string): string {
    return `${this.prefix}w:${queue}|`;
  }

  waitingKeys(queue: string): string {
    return `${this.prefix}wk:${queue}`;
  }

  /** Hash: a pending batch entry's id → the positions of its messages already nacked or dead-lettered (`,2,5,`). */
  settledMembers(queue: string): string {
    return `${this.prefix}bs:${queue}`;
  }

  deadLetters(queue: string): string {
    return `${this.prefix}dl:${queue}`;
  }

  deadLetterIndex(queue: string): string {
    return `${this.prefix}dli:${queue}`;
  }

  schedule(scheduleId: string): string {
    return `${this.prefix}s:${scheduleId}`;
  }

  connection(id: string): string {
    return `${this.prefix}conn:${id}`;
  }
}
