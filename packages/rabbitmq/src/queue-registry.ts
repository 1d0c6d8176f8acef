/**
 * The registry of Missive queues on a RabbitMQ broker. AMQP cannot list queues, so every
 * transport that declares an endpoint queue also appends a small record of it (name, topics,
 * ordered) to `missive.registry`, a stream (RabbitMQ keeps a stream's messages for every reader).
 * The stream keeps {@link REGISTRY_MAX_AGE} of records (at most {@link REGISTRY_MAX_BYTES} bytes):
 * a reader reads it from the start, at a cost that grows with what it holds, so it must not grow
 * for ever. A live transport appends its records again every {@link REGISTRY_REFRESH_MS}, so
 * its queues and types never age out; the records of a service that has been down longer than the
 * retention do.
 *
 * `deleteQueue` appends a deletion record, after which readers forget the queue (and its command
 * ownerships). Claim records say which queue owns each command type (`command-claims.ts`).
 *
 * Each transport follows the stream (`RegistryFollower`): it starts after the newest snapshot
 * (`registry-snapshot.ts`), or from the first record, then gets new records as they are appended.
 * To see everything appended so far, it appends a marker of
 * its own and waits until it reads it. `queues()` then checks each queue on the broker, so a deleted
 * queue drops out of the list while its record lingers. Readers do not disturb each other.
 *
 * @example
 * ```ts
 * publisher.sendToQueue(REGISTRY_QUEUE, registryRecord({ name: 'billing', topics: ['shop.#'] }));
 * await follower.follow(channel);
 * await follower.sync((marker) => publisher.sendToQueue(REGISTRY_QUEUE, marker));
 * follower.queues; // name → { name, topics, ordered }
 * ```
 * @module
 */
import { randomUUID } from 'node:crypto';
import type * as amqp from 'amqplib';
import { silentLogger, TransportError, type Logger } from '@missive/core';
import { asClaimRecord, ClaimBook, type ClaimRecord } from './command-claims.js';
import {
  appendSnapshot,
  assertSnapshots,
  newestSnapshot,
  REGISTRY_MAX_AGE_MS,
  SNAPSHOT_AFTER_RECORDS,
  SNAPSHOT_LEAD_MS,
  snapshotRecord,
  type RegistrySnapshot,
} from './registry-snapshot.js';

export const REGISTRY_QUEUE = 'missive.registry';
/** How long the stream keeps records (RabbitMQ drops whole segments once their newest record is older). */
export const REGISTRY_MAX_AGE = '7D';
/** How often a live transport appends its records again: well inside the retention. */
export const REGISTRY_REFRESH_MS = 24 * 60 * 60_000;
/** A cap on the stream's size, and its segment size (retention drops whole segments). */
export const REGISTRY_MAX_BYTES = 20_000_000;
export const REGISTRY_SEGMENT_BYTES = 256_000;
/** How long a reader waits for its marker. */
const READ_TIMEOUT_MS = 30_000;
/** A read that has waited this long for its marker is logged (once), so that a slow or stuck read is not silent. */
export const READ_WARN_MS = 5_000;
/** How often a marker not read yet is appended again (see {@link RegistryFollower.sync}). */
export const MARKER_RESEND_MS = 2_000;

/** A queue as its record says. */
export interface RegisteredQueue {
  readonly name: string;
  readonly topics: readonly string[];
  readonly ordered: boolean;
}

/** Declares the registry stream. */
export async function assertRegistry(channel: amqp.Channel): Promise<void> {
  await channel.assertQueue(REGISTRY_QUEUE, {
    durable: true,
    arguments: {
      'x-queue-type': 'stream',
      'x-max-age': REGISTRY_MAX_AGE,
      'x-max-length-bytes': REGISTRY_MAX_BYTES,
      'x-stream-max-segment-size-bytes': REGISTRY_SEGMENT_BYTES,
    },
  });
  await assertSnapshots(channel);
}

/**
 * Appends a record on `channel`. Unconfirmed: records are kept up to date again by the daily
 * refresh, and what one channel appends lands in the stream in order, which is all `sync` needs.
 */
export function appendRecord(channel: amqp.Channel, body: Buffer): void {
  channel.sendToQueue(REGISTRY_QUEUE, body, { persistent: true, timestamp: Math.floor(Date.now() / 1000) });
}

/** The record of a queue. */
export function registryRecord(queue: { readonly name: string; readonly topics: readonly string[]; readonly ordered?: boolean }): Buffer {
  return Buffer.from(JSON.stringify({ name: queue.name, topics: queue.topics, ordered: queue.ordered === true }));
}

/** The record of a deleted queue: readers forget the queue until a later record registers it again. */
export function deletionRecord(name: string): Buffer {
  return Buffer.from(JSON.stringify({ name, deleted: true }));
}

/** The record of message types whose exchanges a transport declared (see `rabbitmq-transport.ts`, wire taps). */
export function typesRecord(types: readonly string[]): Buffer {
  return Buffer.from(JSON.stringify({ types }));
}

/** What a record says. */
export type RegistryRecord =
  | RegisteredQueue
  | { readonly name: string; readonly deleted: true }
  | { readonly types: readonly string[] }
  | { readonly marker: string }
  | { readonly claimed: ClaimRecord };

/** Parses a record; undefined for anything that is not a record (it is skipped). */
export function parseRecord(body: Buffer): RegistryRecord | undefined {
  try {
    const value = JSON.parse(body.toString('utf8')) as unknown;
    if (typeof value !== 'object' || value === null) return undefined;
    const { name, topics, ordered, deleted, types, marker, claim } = value as Record<string, unknown>;
    if (typeof marker === 'string') return { marker };
    if (claim !== undefined) {
      const claimed = asClaimRecord(value as Record<string, unknown>);
      return claimed === undefined ? undefined : { claimed };
    }
    if (Array.isArray(types)) return types.every((t) => typeof t === 'string') ? { types } : undefined;
    if (typeof name === 'string' && deleted === true) return { name, deleted: true };
    if (typeof name !== 'string' || !Array.isArray(topics) || !topics.every((t) => typeof t === 'string')) return undefined;
    return { name, topics, ordered: ordered === true };
  } catch {
    return undefined;
  }
}

/** What the registry knows: live queues by name (topics united, ordered if any record says so), and the message types declared. */
export interface Registry {
  readonly queues: Map<string, RegisteredQueue>;
  readonly types: Set<string>;
  /** Command owners, from the claim records. */
  readonly claims: ClaimBook;
}

/**
 * A live reader of the registry: starts after the newest snapshot (`registry-snapshot.ts`), or from
 * the first record, then follows the stream as records are appended. `sync` appends a marker and
 * resolves once the reader has come to it, so everything appended before the marker (by anyone) is
 * in `queues` and `types` by then.
 */
export class RegistryFollower implements Registry {
  readonly queues = new Map<string, RegisteredQueue>();
  readonly types = new Set<string>();
  readonly claims = new ClaimBook();
  /** How each start went: after a snapshot, or from the first record, and how many records it applied to catch up. */
  readonly starts: { from: 'snapshot' | 'first'; records: number }[] = [];
  private readonly waiting = new Map<string, { resolve: () => void; reject: (error: Error) => void }>();
  /** When each entry was last seen (epoch ms): `q\0name`, `t\0type`, `c\0type`. */
  private readonly seen = new Map<string, number>();
  /** The current read: the latest `follow`. Deliveries and replies of any earlier one change nothing. */
  private read: StreamRead | undefined;
  /** The offset the read began at (after a snapshot), until the first record shows nothing is missing. */
  private expected: number | undefined;
  private snapshotDue = false;
  private applied = 0;
  /** Where the current read began, until its first marker is reached. */
  private starting: 'snapshot' | 'first' | undefined;

  /** `logger` hears of a read that waits long for its marker ({@link READ_WARN_MS}). */
  constructor(private readonly logger: Logger = silentLogger) {}

  /**
   * Reads the registry on `channel`, its own (after a reconnect: a new one, from the start again):
   * after the newest snapshot, if any. A later call supersedes this one, even while this one still
   * starts: the earlier read's consumer is cancelled (or, not started yet, never consumes), and
   * nothing it receives changes this reader. (Two reads that both set the reader up at once left it
   * taking one read's consumer tag and the other's channel: it skipped every record for good.)
   */
  async follow(channel: amqp.Channel): Promise<void> {
    for (const waiter of this.waiting.values())
      waiter.reject(new TransportError('the connection was lost while reading the queue registry'));
    this.waiting.clear();
    const previous = this.read;
    const read: StreamRead = { channel, consumerTag: undefined, lastRead: undefined, ackScheduled: false };
    this.read = read;
    if (previous?.consumerTag) void previous.channel.cancel(previous.consumerTag).catch(() => undefined); // a closed channel has none
    await channel.prefetch(1000);
    const snapshot = await newestSnapshot(channel);
    if (this.read !== read) return; // superseded while it started
    await this.consumeAfter(read, snapshot);
  }

  /** Consumes the stream after `snapshot` (its state taken), or from the first record; nothing once `read` is superseded. */
  private async consumeAfter(read: StreamRead, snapshot: RegistrySnapshot | undefined): Promise<void> {
    if (this.read !== read) return;
    this.queues.clear();
    this.types.clear();
    this.claims.clear();
    this.seen.clear();
    this.applied = 0;
    if (snapshot !== undefined) this.load(snapshot);
    this.starting = snapshot === undefined ? 'first' : 'snapshot';
    this.snapshotDue = snapshot === undefined;
    this.expected = snapshot === undefined ? undefined : snapshot.upTo + 1;
    read.consumerTag = undefined;
    // From a minute before the snapshot's last record, by time (broker and client clocks may differ a little).
    const from =
      snapshot === undefined ? 'first' : { '!': 'timestamp', value: Math.max(0, Math.floor((snapshot.upToAt - SNAPSHOT_LEAD_MS) / 1000)) };
    const { consumerTag } = await read.channel.consume(REGISTRY_QUEUE, (message) => this.take(read, message), {
      noAck: false,
      arguments: { 'x-stream-offset': from },
    });
    read.consumerTag ??= consumerTag;
    if (this.read !== read) await read.channel.cancel(consumerTag).catch(() => undefined); // superseded meanwhile
  }

  /**
   * Resolves once this reader has read up to a marker that `append` appends (after whatever the
   * caller appended before). Appends are not confirmed, and one written on a channel the broker is
   * closing (a check of a missing queue sent on it just before) is dropped without a word: until
   * the marker is read, `append` is called again every {@link MARKER_RESEND_MS} with `again` set,
   * and should then append on a channel of its own choosing (the admin channel), what it appended
   * before the marker included.
   */
  async sync(append: (body: Buffer, again: boolean) => Promise<void> | void): Promise<void> {
    const marker = randomUUID();
    const body = Buffer.from(JSON.stringify({ marker }));
    let timer: NodeJS.Timeout | undefined;
    let resend: NodeJS.Timeout | undefined;
    const slow = setTimeout(
      () =>
        this.logger.warn(
          { registry: REGISTRY_QUEUE, waitedMs: READ_WARN_MS, timeoutMs: READ_TIMEOUT_MS },
          `a read of the queue registry (${REGISTRY_QUEUE}) has waited ${READ_WARN_MS} ms for this reader's marker; it fails after ${READ_TIMEOUT_MS} ms`,
        ),
      READ_WARN_MS,
    );
    const reached = new Promise<void>((resolve, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new TransportError(`the queue registry (${REGISTRY_QUEUE}) did not reach this reader's marker within ${READ_TIMEOUT_MS} ms`),
          ),
        READ_TIMEOUT_MS,
      );
      this.waiting.set(marker, { resolve, reject });
    });
    try {
      await append(body, false);
      resend = setInterval(() => {
        void (async () => append(body, true))().catch(() => undefined); // the next one, or the timeout, tells
      }, MARKER_RESEND_MS);
      await reached;
    } finally {
      clearTimeout(timer);
      clearTimeout(slow);
      clearInterval(resend);
      this.waiting.delete(marker);
    }
  }

  /** What this reader knows after the record at `upTo`. */
  snapshot(upTo: number, upToAt: number): RegistrySnapshot {
    const seen = (key: string) => this.seen.get(key) ?? Date.now();
    const claims = this.claims.state();
    return {
      upTo,
      upToAt,
      at: Date.now(),
      queues: [...this.queues.values()].map((q) => ({ ...q, seen: seen(`q\0${q.name}`) })),
      types: [...this.types].map((type) => ({ type, seen: seen(`t\0${type}`) })),
      owners: claims.owners.map((o) => ({ ...o, seen: seen(`c\0${o.type}`) })),
      lost: claims.lost,
    };
  }

  /**
   * Acks what was read so far, once per event-loop turn: a stream keeps its records, the ack only
   * lets more come, and one `multiple` ack for a turn's records lets the first read of a long
   * registry go several times faster than an ack per record.
   */
  private ackLater(read: StreamRead, message: amqp.ConsumeMessage): void {
    read.lastRead = message;
    if (read.ackScheduled) return;
    read.ackScheduled = true;
    setImmediate(() => {
      read.ackScheduled = false;
      const last = read.lastRead;
      read.lastRead = undefined;
      if (last === undefined) return;
      try {
        read.channel.ack(last, true);
      } catch {
        /* the channel is closing: a new reader starts from the first record */
      }
    });
  }

  private take(read: StreamRead, message: amqp.ConsumeMessage | null): void {
    if (message === null) return;
    this.ackLater(read, message); // what a superseded read still gets is acked too: the stream keeps it, the ack only lets more come
    if (read !== this.read) return;
    if (read.consumerTag !== undefined && message.fields.consumerTag !== read.consumerTag) return; // a consumer given up (restartFromFirst)
    read.consumerTag ??= message.fields.consumerTag;
    const offset = streamOffset(message);
    const record = parseRecord(message.content);
    if (this.expected !== undefined) {
      // The read starts a little before the snapshot's last record: records up to it are skipped. But
      // a marker this reader waits for before it means the stream is younger than the snapshot (it
      // was deleted and declared again), and a first record past it that the retention dropped the
      // records after the snapshot: either way, read from the first record instead.
      const reset = offset < this.expected && record !== undefined && 'marker' in record && this.waiting.has(record.marker);
      if (offset < this.expected && !reset) return;
      const gap = offset > this.expected;
      this.expected = undefined;
      if (gap || reset) {
        this.restartFromFirst(read);
        return;
      }
    }
    if (record === undefined) return;
    if (!('marker' in record)) {
      this.apply(record, recordTime(message));
      return;
    }
    const waiter = this.waiting.get(record.marker);
    if (waiter === undefined) return;
    if (this.starting !== undefined) {
      this.starts.push({ from: this.starting, records: this.applied });
      this.starting = undefined;
      if (this.snapshotDue || this.applied > SNAPSHOT_AFTER_RECORDS) {
        this.snapshotDue = false;
        appendSnapshot(read.channel, snapshotRecord(this.snapshot(offset, recordTime(message))));
      }
    }
    waiter.resolve();
  }

  private restartFromFirst(read: StreamRead): void {
    const tag = read.consumerTag;
    read.consumerTag = ''; // what the old consumer still delivers is skipped
    void (async () => {
      if (tag !== undefined) await read.channel.cancel(tag);
      await this.consumeAfter(read, undefined);
    })().catch(() => undefined); // the channel was lost: the registry follows again on the next connection
  }

  /** Takes a snapshot's state, without the entries the retention would have dropped by now. */
  private load(snapshot: RegistrySnapshot): void {
    const oldest = Date.now() - REGISTRY_MAX_AGE_MS;
    for (const q of snapshot.queues) {
      if (q.seen < oldest) continue;
      this.queues.set(q.name, { name: q.name, topics: q.topics, ordered: q.ordered === true });
      this.seen.set(`q\0${q.name}`, q.seen);
    }
    for (const t of snapshot.types) {
      if (t.seen < oldest) continue;
      this.types.add(t.type);
      this.seen.set(`t\0${t.type}`, t.seen);
    }
    const owners = snapshot.owners.filter((o) => o.seen >= oldest);
    for (const o of owners) this.seen.set(`c\0${o.type}`, o.seen);
    this.claims.restore({
      owners: owners.map(({ type, queue, service, since }) => ({ type, queue, service, since })),
      lost: snapshot.lost,
    });
  }

  private apply(record: Exclude<RegistryRecord, { readonly marker: string }>, seen: number): void {
    this.applied++;
    if ('types' in record) {
      for (const type of record.types) {
        this.types.add(type);
        this.seen.set(`t\0${type}`, seen);
      }
      return;
    }
    if ('claimed' in record) {
      this.claims.apply(record.claimed);
      for (const type of record.claimed.types) this.seen.set(`c\0${type}`, seen);
      return;
    }
    if ('deleted' in record) {
      this.queues.delete(record.name);
      this.claims.release(record.name);
      return;
    }
    this.seen.set(`q\0${record.name}`, seen);
    const known = this.queues.get(record.name);
    this.queues.set(
      record.name,
      known === undefined
        ? record
        : { name: record.name, topics: [...new Set([...known.topics, ...record.topics])], ordered: known.ordered || record.ordered },
    );
  }
}

/** One `follow`: its channel, its consumer (`''` while one is given up for another), and its pending ack. */
interface StreamRead {
  readonly channel: amqp.Channel;
  consumerTag: string | undefined;
  /** The last record taken and not acked yet (see `ackLater`). */
  lastRead: amqp.ConsumeMessage | undefined;
  ackScheduled: boolean;
}

/** A delivered stream message's offset. */
function streamOffset(message: amqp.ConsumeMessage): number {
  return Number(message.properties.headers?.['x-stream-offset'] ?? -1);
}

/** When a record was appended (its timestamp; writers before snapshots set none: then now). */
function recordTime(message: amqp.ConsumeMessage): number {
  const stamp = message.properties.timestamp as number | undefined;
  return typeof stamp === 'number' && stamp > 0 ? stamp * 1000 : Date.now();
}
