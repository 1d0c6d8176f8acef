/**
 * The registry of Missive queues on a RabbitMQ broker. AMQP cannot list queues, so every
 * transport that declares an endpoint queue also appends a small record of it (name, topics,
 * ordered) to `missive.registry`, a stream (RabbitMQ keeps a stream's messages for every reader;
 * this one keeps its newest {@link REGISTRY_MAX_BYTES} bytes, hundreds of thousands of records).
 *
 * `deleteQueue` appends a deletion record, after which readers forget the queue.
 *
 * To list the queues, a reader appends a marker of its own, then reads the stream from its first
 * record up to that marker, merges the records by name and checks each queue on the broker, so a
 * deleted queue drops out of the list while its record lingers. Readers do not disturb each other.
 *
 * @example
 * ```ts
 * publisher.sendToQueue(REGISTRY_QUEUE, registryRecord({ name: 'billing', topics: ['shop.#'] }));
 * const known = await readRegistry(channel, (marker) => publish(marker));
 * ```
 * @module
 */
import { randomUUID } from 'node:crypto';
import type * as amqp from 'amqplib';
import { TransportError } from '@missive/core';

export const REGISTRY_QUEUE = 'missive.registry';
/** Bytes of records the stream keeps (in segments of {@link REGISTRY_SEGMENT_BYTES}); a record is about 100. */
export const REGISTRY_MAX_BYTES = 20_000_000;
export const REGISTRY_SEGMENT_BYTES = 1_000_000;
/** How long a reader waits for its marker. */
const READ_TIMEOUT_MS = 30_000;

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
    arguments: { 'x-queue-type': 'stream', 'x-max-length-bytes': REGISTRY_MAX_BYTES, 'x-stream-max-segment-size-bytes': REGISTRY_SEGMENT_BYTES },
  });
}

/** The record of a queue. */
export function registryRecord(queue: { readonly name: string; readonly topics: readonly string[]; readonly ordered?: boolean }): Buffer {
  return Buffer.from(JSON.stringify({ name: queue.name, topics: queue.topics, ordered: queue.ordered === true }));
}

/** The record of a deleted queue: readers forget the queue until a later record registers it again. */
export function deletionRecord(name: string): Buffer {
  return Buffer.from(JSON.stringify({ name, deleted: true }));
}

/** Parses a record; `{ name, deleted: true }` for a deletion; undefined for anything that is not a record (it is skipped). */
export function parseRecord(body: Buffer): RegisteredQueue | { readonly name: string; readonly deleted: true } | undefined {
  try {
    const value = JSON.parse(body.toString('utf8')) as unknown;
    if (typeof value !== 'object' || value === null) return undefined;
    const { name, topics, ordered, deleted } = value as Record<string, unknown>;
    if (typeof name === 'string' && deleted === true) return { name, deleted: true };
    if (typeof name !== 'string' || !Array.isArray(topics) || !topics.every((t) => typeof t === 'string')) return undefined;
    return { name, topics, ordered: ordered === true };
  } catch {
    return undefined;
  }
}

/**
 * Reads every record up to a marker it appends with `append` (which resolves once the broker has
 * it), merged by name: topics united, ordered if any record says so. `channel` is the reader's own;
 * the caller closes it.
 */
export async function readRegistry(channel: amqp.Channel, append: (body: Buffer) => Promise<void>): Promise<Map<string, RegisteredQueue>> {
  const marker = randomUUID();
  await append(Buffer.from(JSON.stringify({ marker })));
  const known = new Map<string, RegisteredQueue>();
  await channel.prefetch(1000);
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(new TransportError(`the queue registry (${REGISTRY_QUEUE}) did not reach this reader's marker within ${READ_TIMEOUT_MS} ms`)), READ_TIMEOUT_MS);
      channel
        .consume(
          REGISTRY_QUEUE,
          (message) => {
            if (message === null) return reject(new TransportError(`the queue registry (${REGISTRY_QUEUE}) was deleted while being read`));
            channel.ack(message); // a stream keeps it: the ack only lets the next one come
            const body = message.content.toString('utf8');
            if (body.includes(marker)) return resolve();
            const record = parseRecord(message.content);
            if (record === undefined) return;
            if ('deleted' in record) {
              known.delete(record.name);
              return;
            }
            const seen = known.get(record.name);
            known.set(record.name, seen === undefined ? record : { name: record.name, topics: [...new Set([...seen.topics, ...record.topics])], ordered: seen.ordered || record.ordered });
          },
          { noAck: false, arguments: { 'x-stream-offset': 'first' } },
        )
        .catch(reject);
    });
  } finally {
    clearTimeout(timer);
  }
  return known;
}
