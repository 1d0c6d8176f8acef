/**
 * The settles of a Redis consumer's deliveries: the ids of a plain ack batch, the arguments of the
 * `ack` script (keyed batches), and the `nack` and `deadLetter` calls. A reclaimed entry is written
 * again under a new id, so a plain `XACK` of the old id settles nothing; each script also checks
 * the pending-entries list still names the consumer and the delivery count it fetched: a settle
 * that finds the delivery reclaimed by another consumer is ignored and logged, never applied to the
 * new copy.
 *
 * @example
 * ```ts
 * await requeueEntry(connection, { stream, queue, consumer: name }, delivery, 0, undefined, false);
 * ```
 * @module
 */
import type { DeadLetterFailure } from '@missive/core/transport';
import type { RedisConnection } from './redis-connection.js';
import { compareEntryIds, type RedisDelivery } from './redis-delivery.js';

/** What an ack settles: a plain entry's delivery, or a batch entry whose messages are all settled. */
export interface AckUnit {
  readonly entryId: string;
  readonly pelCount: number;
  readonly token: string;
  /** The partition key it holds (a keyed delivery's ack releases it). */
  readonly key: string | undefined;
  /** Messages it holds beyond one (a batch entry's ack takes them off the stream's count). */
  readonly extra: number;
}

/** Where a delivery was fetched: the queue, its stream and the consumer's name in the group. */
export interface SettleSite {
  readonly queue: string;
  readonly stream: string;
  readonly consumer: string;
}

/**
 * The entry ids of an ack batch that plain `XACK` and `XDEL` settle, or `undefined` when a delivery
 * is keyed (the `ack` script settles those: it releases the key too). Plain `XACK` never settles a
 * reclaimed copy: a reclaim writes the message again under a new id (see the `fetch` script).
 */
export function plainAckIds(batch: readonly AckUnit[]): string[] | undefined {
  const ids: string[] = [];
  for (const d of batch) {
    if (d.key !== undefined) return undefined;
    ids.push(d.entryId);
  }
  return ids;
}

/** The `ack` script's arguments for a batch (see the script). */
export function ackArgs(prefix: string, site: SettleSite, batch: readonly AckUnit[]): (string | number)[] {
  const keyed = batch.some((d) => d.key !== undefined);
  let low = batch[0]!;
  let high = low;
  for (const d of batch) {
    if (compareEntryIds(d.entryId, low.entryId) < 0) low = d;
    if (compareEntryIds(d.entryId, high.entryId) > 0) high = d;
  }
  const args: (string | number)[] = [prefix, site.queue, site.consumer, keyed ? 4 : 2, low.entryId, high.entryId];
  for (const d of batch) {
    if (keyed) args.push(d.entryId, d.pelCount, d.key === undefined ? '' : `=${d.key}`, d.token);
    else args.push(d.entryId, d.pelCount);
  }
  return args;
}

/** The `ackEntries` script's arguments: per entry, its id and the messages it holds beyond one. */
export function ackEntryArgs(batch: readonly AckUnit[]): (string | number)[] {
  const args: (string | number)[] = [];
  for (const d of batch) args.push(d.entryId, d.extra);
  return args;
}

/** The headers argument of a member's nack: `undefined` keeps its headers. */
function memberHeaders(d: RedisDelivery, headers: Readonly<Record<string, string>> | undefined): string | Buffer {
  if (headers === undefined) return d.member?.headers ?? '';
  return Object.keys(headers).length === 0 ? '' : JSON.stringify(headers);
}

/**
 * Writes one message of a batch entry again alone (now or after `delayMs`); the batch entry stays
 * pending until all its messages are settled. Resolves with true once written (or found no longer
 * ours: the batch entry was reclaimed), false when the transport is closed (nothing written).
 */
export async function requeueMember(
  transport: RedisConnection,
  site: SettleSite,
  d: RedisDelivery,
  delayMs: number,
  headers: Readonly<Record<string, string>> | undefined,
  undo: boolean,
): Promise<boolean> {
  const member = d.member!;
  if (!transport.open) return false;
  try {
    const done = await transport.scripts.run(
      'nackMember',
      [site.stream],
      [
        transport.keys.prefix,
        site.queue,
        site.consumer,
        member.entry.entryId,
        member.entry.pelCount,
        Math.max(0, Math.floor(delayMs)),
        d.deliveryCount - (undo ? 1 : 0),
        member.value,
        memberHeaders(d, headers),
        transport.clock.now(),
        member.position,
      ],
    );
    if (Number(done) === 0)
      transport.logger.warn(
        { messageId: d.message.id },
        `a nack on redis queue ${site.queue} found the delivery reclaimed by another consumer; ignored`,
      );
    if (delayMs > 0) transport.dueAt(transport.clock.now() + delayMs);
    return true;
  } catch (error) {
    throw transport.failure('nack', error);
  }
}

/** Moves one message of a batch entry with its failure to the dead-letter stream; the batch entry stays pending until all are settled. */
export async function deadLetterMember(
  transport: RedisConnection,
  site: SettleSite,
  d: RedisDelivery,
  failure: DeadLetterFailure,
): Promise<boolean> {
  const member = d.member!;
  if (!transport.open) return false;
  try {
    const done = await transport.scripts.run(
      'deadLetterMember',
      [site.stream],
      [
        transport.keys.prefix,
        site.queue,
        site.consumer,
        member.entry.entryId,
        member.entry.pelCount,
        member.value,
        member.headers ?? '',
        JSON.stringify(failure),
        member.position,
      ],
    );
    if (Number(done) === 0)
      transport.logger.warn(
        { messageId: d.message.id },
        `a dead-letter on redis queue ${site.queue} found the delivery reclaimed by another consumer; ignored`,
      );
    return true;
  } catch (error) {
    throw transport.failure('dead-letter', error);
  }
}

/** Writes the message again (now or after `delayMs`), keeping its key; `undo` takes back this delivery's count. */
export async function requeueEntry(
  transport: RedisConnection,
  site: SettleSite,
  d: RedisDelivery,
  delayMs: number,
  headers: Readonly<Record<string, string>> | undefined,
  undo: boolean,
): Promise<void> {
  if (!transport.open) return;
  const headerArg = headers === undefined ? '-' : Object.keys(headers).length === 0 ? '' : JSON.stringify(headers);
  try {
    const done = await transport.scripts.run(
      'nack',
      [site.stream],
      [
        transport.keys.prefix,
        site.queue,
        site.consumer,
        d.entryId,
        d.pelCount,
        Math.max(0, Math.floor(delayMs)),
        d.deliveryCount - (undo ? 1 : 0),
        headerArg,
        d.token,
        transport.clock.now(),
      ],
    );
    if (Number(done) === 0)
      transport.logger.warn(
        { messageId: d.message.id },
        `a nack on redis queue ${site.queue} found the delivery reclaimed by another consumer; ignored`,
      );
    if (delayMs > 0) transport.dueAt(transport.clock.now() + delayMs);
  } catch (error) {
    throw transport.failure('nack', error);
  }
}

/** Moves the delivery with its failure to the dead-letter stream, in one script. */
export async function deadLetterEntry(
  transport: RedisConnection,
  site: SettleSite,
  d: RedisDelivery,
  failure: DeadLetterFailure,
): Promise<void> {
  if (!transport.open) return;
  try {
    const done = await transport.scripts.run(
      'deadLetter',
      [site.stream],
      [
        transport.keys.prefix,
        site.queue,
        site.consumer,
        d.entryId,
        d.pelCount,
        d.message.partitionKey === undefined ? '' : `=${d.message.partitionKey}`,
        d.token,
        JSON.stringify(failure),
      ],
    );
    if (Number(done) === 0)
      transport.logger.warn(
        { messageId: d.message.id },
        `a dead-letter on redis queue ${site.queue} found the delivery reclaimed by another consumer; ignored`,
      );
  } catch (error) {
    throw transport.failure('dead-letter', error);
  }
}
