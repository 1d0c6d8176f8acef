/**
 * Where Missive's messages live on NATS: the names of streams, consumers and subjects. One place,
 * so that every process (publishers, consumers, the CLI) derives the same names.
 *
 * | thing | NATS name |
 * | --- | --- |
 * | messages (topics and queues) | stream `<P>_MSG`, subjects `<p>.<slot>.t.<topic>` and `<p>.<slot>.q.<queue>` |
 * | a queue's lanes | durable pull consumers of `<P>_MSG`, named `<queue>!d[!<slot>]` (its direct sends) and `<queue>!t<hash>[!<slot>]` (one per topic subject) |
 * | dead letters | stream `<P>_DLQ`, subject `<p>.x.dlq.<queue>.<id>` |
 * | scheduled messages | stream `<P>_SCHED`, subject `<p>.x.sched.<schedule id>` |
 * | headers of a nacked delivery | stream `<P>_RETRY`, subject `<p>.x.retry.<consumer>.<stream seq>` |
 * | command owners | key-value bucket `<P>_OWNERS` (stream `KV_<P>_OWNERS`), key: the type in base64url |
 * | running consumers | key-value bucket `<P>_SEEN` (stream `KV_<P>_SEEN`), key `<queue>.<instance>` (queue in base64url) |
 *
 * `<slot>` is `_` for a message without a partition key, else the key's partition `0`–`15`. A
 * queue's name becomes one subject token by writing its dots as `~` (queue names never contain `~`);
 * ids become one token in base64url.
 *
 * @example
 * ```ts
 * const names = new Naming('missive');
 * names.queueSubject('billing', '_'); // 'missive._.q.billing'
 * ```
 * @module
 */
import { createHash } from 'node:crypto';

/** How many partitions keyed messages are spread over. Every publisher must agree: a constant. */
export const PARTITIONS = 16;

/** The slot of a message: `_` without a key, else its partition (FNV-1a of the key, mod {@link PARTITIONS}). */
export function slotOf(partitionKey: string | undefined): string {
  if (partitionKey === undefined) return '_';
  let hash = 0x811c9dc5;
  for (let i = 0; i < partitionKey.length; i++) {
    hash ^= partitionKey.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return String(hash % PARTITIONS);
}

/** Every slot an ordered queue has a lane for. */
export const SLOTS: readonly string[] = ['_', ...Array.from({ length: PARTITIONS }, (_, i) => String(i))];

/** A queue name as one subject token and consumer-name part. */
export function queueToken(queue: string): string {
  return queue.replaceAll('.', '~');
}

/** The inverse of {@link queueToken}. */
export function queueFromToken(token: string): string {
  return token.replaceAll('~', '.');
}

/** An arbitrary id as one subject token. */
export function idToken(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url') || '-';
}

/**
 * The NATS subject filters of a Missive topic pattern (AMQP semantics: `*` one word, `#` zero or
 * more). `#` at the end becomes two filters (`a` and `a.>`); `#` elsewhere is refused, since a
 * NATS filter cannot say "zero or more words" in the middle.
 */
export function patternSubjects(pattern: string): string[] | undefined {
  const words = pattern.split('.');
  const hash = words.indexOf('#');
  if (hash === -1) return [words.join('.')];
  if (hash !== words.length - 1) return undefined;
  const head = words.slice(0, -1);
  return head.length === 0 ? ['>'] : [head.join('.'), `${head.join('.')}.>`];
}

/** Whether a NATS filter subject (with `*` and `>`) matches a subject. */
export function subjectMatches(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (f[i] !== '*' && f[i] !== s[i]) return false;
  }
  return f.length === s.length;
}

/**
 * The topic of a topic subject (`<p>.<slot>.t.<topic>`), or `''` for any other subject. A message
 * published to a topic named after its type carries no `Missive-Type` header: its subject says it.
 * (Prefixes have no dots, so the topic begins after the third dot.)
 */
export function topicOfSubject(subject: string): string {
  const slotAt = subject.indexOf('.') + 1;
  if (slotAt === 0) return '';
  const kindAt = subject.indexOf('.', slotAt) + 1;
  if (kindAt === 0 || subject.charCodeAt(kindAt) !== 116 /* t */ || subject.charCodeAt(kindAt + 1) !== 46 /* . */) return '';
  return subject.slice(kindAt + 2);
}

/** Short stable hash of a filter, for consumer names. */
export function shortHash(text: string): string {
  return createHash('sha1').update(text).digest('hex').slice(0, 10);
}

/** Names for one prefix. */
export class Naming {
  readonly messages: string;
  readonly deadLetters: string;
  readonly scheduled: string;
  readonly retries: string;
  /** The key-value bucket of command owners (stream `KV_<P>_OWNERS`). */
  readonly owners: string;
  /** The key-value bucket of consumer records (stream `KV_<P>_SEEN`). */
  readonly seen: string;
  /** The scheduler's durable consumer on the scheduled stream. */
  readonly scheduler = 'scheduler';

  constructor(readonly prefix: string) {
    const upper = prefix.toUpperCase();
    this.messages = `${upper}_MSG`;
    this.deadLetters = `${upper}_DLQ`;
    this.scheduled = `${upper}_SCHED`;
    this.retries = `${upper}_RETRY`;
    this.owners = `${upper}_OWNERS`;
    this.seen = `${upper}_SEEN`;
  }

  topicSubject(topic: string, slot: string): string {
    return `${this.prefix}.${slot}.t.${topic}`;
  }

  queueSubject(queue: string, slot: string): string {
    return `${this.prefix}.${slot}.q.${queueToken(queue)}`;
  }

  /** Where a temporary queue (core NATS, no stream) listens. */
  temporarySubject(queue: string): string {
    return `${this.prefix}.tmp.${queueToken(queue)}`;
  }

  deadLetterSubject(queue: string, id: string): string {
    return `${this.prefix}.x.dlq.${queueToken(queue)}.${idToken(id)}`;
  }

  deadLetterFilter(queue: string): string {
    return `${this.prefix}.x.dlq.${queueToken(queue)}.*`;
  }

  scheduleSubject(scheduleId: string): string {
    return `${this.prefix}.x.sched.${idToken(scheduleId)}`;
  }

  retrySubject(consumer: string, streamSeq: number): string {
    return `${this.prefix}.x.retry.${consumer}.${streamSeq}`;
  }

  /** The lane consumers of a queue start with this. */
  lanePrefix(queue: string): string {
    return `${queueToken(queue)}!`;
  }
}
