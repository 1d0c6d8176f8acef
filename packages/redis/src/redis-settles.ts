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
export function plainAckIds(batch: readonly RedisDelivery[]): string[] | undefined {
  const ids: string[] = [];
  for (const d of batch) {
    if (d.message.partitionKey !== undefined) return undefined;
    ids.push(d.entryId);
  }
  return ids;
}

/** The `ack` script's arguments for a batch (see the script). */
export function ackArgs(prefix: string, site: SettleSite, batch: readonly RedisDelivery[]): (string | number)[] {
  const keyed = batch.some((d) => d.message.partitionKey !== undefined);
  let low = batch[0]!;
  let high = low;
  for (const d of batch) {
    if (compareEntryIds(d.entryId, low.entryId) < 0) low = d;
    if (compareEntryIds(d.entryId, high.entryId) > 0) high = d;
  }
  const args: (string | number)[] = [prefix, site.queue, site.consumer, keyed ? 4 : 2, low.entryId, high.entryId];
  for (const d of batch) {
    if (keyed) args.push(d.entryId, d.pelCount, d.message.partitionKey === undefined ? '' : `=${d.message.partitionKey}`, d.token);
    else args.push(d.entryId, d.pelCount);
  }
  return args;
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
