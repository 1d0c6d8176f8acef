/**
 * Snapshots of the queue registry (`queue-registry.ts`), so a new reader need not read the registry
 * stream from its first record. A snapshot holds what a reader knew after reading every record up
 * to stream offset `upTo`: the queues, the types, the command owners, and when each entry was last
 * seen. Snapshots live in a stream of their own, {@link SNAPSHOT_STREAM}, kept small by its byte
 * retention, so the registry stream itself is unchanged: readers and writers that predate
 * snapshots never see one, and their records are read by new readers as before.
 *
 * A new reader reads the snapshot stream to a marker of its own and takes the newest snapshot, then
 * reads the registry from a minute before the record at `upTo` was appended (a timestamp offset: an
 * offset number past the stream's end would wait for it), skipping records up to `upTo`. When there
 * is none, or the registry's retention has dropped records after it (the first offset delivered is
 * past `upTo + 1`), or the registry is younger than the snapshot (deleted and declared again: its
 * own marker comes at an offset before `upTo`), it reads from the first
 * record as before. After reading from the first record, or more than {@link SNAPSHOT_AFTER_RECORDS}
 * records past a snapshot, it appends a new snapshot at its first marker. An entry not seen for
 * {@link REGISTRY_MAX_AGE_MS} (a record of it that old would have been dropped) is left out when a
 * snapshot is loaded, so entries age out as records do. Records carry their append time
 * (`timestamp`); for those of older writers, the time a reader first read them counts.
 *
 * @example
 * ```ts
 * const snapshot = await newestSnapshot(channel); // undefined: read from the first record
 * appendSnapshot(channel, snapshotRecord(follower.snapshot(upTo)));
 * ```
 * @module
 */
import { randomUUID } from 'node:crypto';
import type * as amqp from 'amqplib';
import type { CommandOwner } from '@missive/core';

/** The stream of snapshots. */
export const SNAPSHOT_STREAM = 'missive.registry.snapshots';
/** Its size cap and segment size: a few snapshots are kept (retention drops whole segments). */
const SNAPSHOT_MAX_BYTES = 8_000_000;
const SNAPSHOT_SEGMENT_BYTES = 2_000_000;
/** How long a reader looks for the newest snapshot before it reads the registry from its first record. */
const SNAPSHOT_READ_TIMEOUT_MS = 10_000;
/** How long before a snapshot's last record a reader starts reading. */
export const SNAPSHOT_LEAD_MS = 60_000;
/** A reader that applied more records than this after its snapshot appends a new one. */
export const SNAPSHOT_AFTER_RECORDS = 2_000;
/** The stream's retention (`REGISTRY_MAX_AGE`, 7 days) in milliseconds. */
export const REGISTRY_MAX_AGE_MS = 7 * 24 * 60 * 60_000;

/** What a reader knew after the record at `upTo`, with when each entry was last seen (epoch ms). */
export interface RegistrySnapshot {
  /** The stream offset of the last record it includes. */
  readonly upTo: number;
  /** When that record was appended (epoch ms, the appender's clock): a reader starts its read shortly before. */
  readonly upToAt: number;
  /** When it was taken (epoch ms, the writer's clock). */
  readonly at: number;
  readonly queues: readonly {
    readonly name: string;
    readonly topics: readonly string[];
    readonly ordered: boolean;
    readonly seen: number;
  }[];
  readonly types: readonly { readonly type: string; readonly seen: number }[];
  readonly owners: readonly (CommandOwner & { readonly seen: number })[];
  /** `queue\0type` of types taken over from a queue. */
  readonly lost: readonly string[];
}

/** The record of a snapshot. */
export function snapshotRecord(snapshot: RegistrySnapshot): Buffer {
  return Buffer.from(JSON.stringify({ snapshot }));
}

const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const isStrings = (value: unknown): value is string[] => Array.isArray(value) && value.every((v) => typeof v === 'string');

/** A snapshot out of a parsed record's `snapshot` field; undefined when it is not a well-formed one (then it is skipped). */
export function parseSnapshot(value: unknown): RegistrySnapshot | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { upTo, upToAt, at, queues, types, owners, lost } = value as Record<string, unknown>;
  if (
    !isNumber(upTo) ||
    !isNumber(upToAt) ||
    !isNumber(at) ||
    !Array.isArray(queues) ||
    !Array.isArray(types) ||
    !Array.isArray(owners) ||
    !isStrings(lost)
  )
    return undefined;
  const q = queues as Record<string, unknown>[];
  const t = types as Record<string, unknown>[];
  const o = owners as Record<string, unknown>[];
  if (!q.every((e) => typeof e?.name === 'string' && isStrings(e.topics) && isNumber(e.seen))) return undefined;
  if (!t.every((e) => typeof e?.type === 'string' && isNumber(e.seen))) return undefined;
  if (!o.every((e) => typeof e?.type === 'string' && typeof e.queue === 'string' && isNumber(e.since) && isNumber(e.seen)))
    return undefined;
  return value as RegistrySnapshot;
}

/** Declares the snapshot stream. */
export async function assertSnapshots(channel: amqp.Channel): Promise<void> {
  await channel.assertQueue(SNAPSHOT_STREAM, {
    durable: true,
    arguments: {
      'x-queue-type': 'stream',
      'x-max-age': '7D',
      'x-max-length-bytes': SNAPSHOT_MAX_BYTES,
      'x-stream-max-segment-size-bytes': SNAPSHOT_SEGMENT_BYTES,
    },
  });
}

/** Appends a snapshot (unconfirmed: a lost one only means the next reader reads more). */
export function appendSnapshot(channel: amqp.Channel, body: Buffer): void {
  channel.sendToQueue(SNAPSHOT_STREAM, body, { persistent: true });
}

/**
 * The newest well-formed snapshot, read on `channel` (prefetch set) up to a marker appended
 * after whatever the stream holds; undefined when there is none or the read did not finish in
 * time (then the caller reads the registry from its first record).
 */
export async function newestSnapshot(channel: amqp.Channel): Promise<RegistrySnapshot | undefined> {
  const marker = randomUUID();
  let newest: RegistrySnapshot | undefined;
  let tag: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(resolve, SNAPSHOT_READ_TIMEOUT_MS);
      channel
        .consume(
          SNAPSHOT_STREAM,
          (message) => {
            if (message === null) return resolve();
            channel.ack(message);
            const value = parse(message.content);
            if (value?.marker === marker) return resolve();
            const snapshot = parseSnapshot(value?.snapshot);
            if (snapshot !== undefined) newest = snapshot;
          },
          { noAck: false, arguments: { 'x-stream-offset': 'first' } },
        )
        .then(({ consumerTag }) => {
          tag = consumerTag;
          // Throws when the channel closed meanwhile (a lost connection): the read ends, not unhandled.
          channel.sendToQueue(SNAPSHOT_STREAM, Buffer.from(JSON.stringify({ marker })), { persistent: true });
        })
        .catch(reject);
    });
  } catch {
    return undefined; // no snapshot stream (a broker where it could not be declared): read from the first record
  } finally {
    clearTimeout(timer);
    if (tag !== undefined) await channel.cancel(tag).catch(() => undefined);
  }
  return newest;
}

function parse(body: Buffer): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(body.toString('utf8')) as unknown;
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
