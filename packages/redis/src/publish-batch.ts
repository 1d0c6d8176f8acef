/**
 * Publishes made together (before the microtasks of this turn have all run) go to Redis as one script call: the routing version is
 * checked once and every message is written to every stream its topic routes to, all or nothing.
 * Each publish resolves when that call returns (Redis has the messages; durable as the server's
 * persistence makes it). A stale routing version re-reads the bindings and tries the batch again.
 *
 * The messages of a batch bound for the same stream share stream entries (`M`, see `entry.ts`):
 * up to 64 messages or 256 KiB an entry, so Redis stores, delivers, acks and deletes one entry for
 * many messages. A keyed message stays an entry of its own (in its place in the stream's order).
 * An entry holding one message keeps the single-message layout. The script counts, per stream,
 * the messages beyond one per entry (`<p>batched`), so the queue listing counts messages.
 *
 * @example
 * ```ts
 * const batch = new PublishBatch(transport);
 * await batch.add('shop.order-placed', entryFields(message));
 * ```
 * @module
 */
import { TransportError, UnroutableError } from '@missive/core';
import { BATCH_MAX_BYTES, BATCH_MAX_MESSAGES, batchable, batchValue } from './entry.js';
import { Packer } from './pack.js';
import type { RedisConnection } from './redis-connection.js';

const MAX_BATCH = 500;

interface Pending {
  readonly topic: string;
  readonly fields: readonly (string | Buffer)[];
  /** Rejects with `UnroutableError` when no queue is bound (commands, queries). */
  readonly mandatory: boolean;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** The publish batch of one transport. */
export class PublishBatch {
  private pending: Pending[] = [];

  constructor(private readonly transport: RedisConnection) {}

  /** Queues a publish for this turn's batch. */
  add(topic: string, fields: readonly (string | Buffer)[], mandatory = false): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ topic, fields, mandatory, resolve, reject });
      if (this.pending.length === 1) process.nextTick(() => void this.flush());
    });
  }

  /** Sends what is queued (also called when the transport closes). */
  async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, MAX_BATCH);
      try {
        const routed = await this.send(batch);
        for (let i = 0; i < batch.length; i++) {
          const p = batch[i]!;
          // No queue, checked against the routing version in the script: a binding made since counts.
          if (p.mandatory && routed[i] === 0) p.reject(new UnroutableError(p.topic));
          else p.resolve();
        }
      } catch (error) {
        const failure = this.transport.failure('publish', error);
        for (const p of batch) p.reject(failure);
      }
    }
  }

  /** Writes the batch; resolves with how many queues each message went to. */
  private async send(batch: readonly Pending[]): Promise<number[]> {
    const transport = this.transport;
    for (let attempt = 0; attempt < 10; attempt++) {
      const routes = await transport.currentRoutes();
      const routed: number[] = [];
      // Per stream, this batch's messages that may share an entry (see entry.ts), in order.
      const shared = new Map<string, (readonly (string | Buffer)[])[]>();
      // One packed argument for the whole batch: ioredis's cost is per argument (see pack.ts).
      const packer = new Packer();
      for (const p of batch) {
        const streams = transport.streamsOf(routes, p.topic);
        routed.push(streams.length);
        const alone = !batchable(p.fields);
        for (const stream of streams) {
          if (alone) {
            // Written after the stream's earlier messages of this batch: order per stream is kept.
            const before = shared.get(stream);
            if (before !== undefined) packShared(packer, stream, before);
            shared.delete(stream);
            entry(packer, stream, 0, p.fields);
          } else {
            const list = shared.get(stream);
            if (list === undefined) shared.set(stream, [p.fields]);
            else list.push(p.fields);
          }
        }
      }
      for (const [stream, list] of shared) packShared(packer, stream, list);
      const args = [routes.version, packer.finish()];
      if ((await transport.scripts.run('publishBatch', [transport.keys.version, transport.keys.batched], args)) === null) return routed;
      transport.staleRoutes();
    }
    throw new TransportError('publish: the queue bindings kept changing during 10 attempts');
  }
}

/** One entry of the packed batch: stream, messages beyond the first it holds, field count, fields. */
function entry(packer: Packer, stream: string, extra: number, fields: readonly (string | Buffer)[]): void {
  packer.string(stream);
  packer.number(extra);
  packer.number(fields.length);
  for (const field of fields) {
    if (typeof field === 'string') packer.string(field);
    else packer.bytes(field);
  }
}

/**
 * A stream's shareable messages, in order: batch entries of at most `BATCH_MAX_MESSAGES` messages
 * and `BATCH_MAX_BYTES` bytes (the `m` values and the headers; a message bigger than that goes
 * alone); a message alone in its entry keeps the single-message layout.
 */
function packShared(packer: Packer, stream: string, list: readonly (readonly (string | Buffer)[])[]): void {
  let start = 0;
  while (start < list.length) {
    let end = start;
    let bytes = 0;
    while (end < list.length && end - start < BATCH_MAX_MESSAGES) {
      const fields = list[end]!;
      const size = (fields[1] as Buffer).length + (fields.length === 4 ? (fields[3] as string).length : 0);
      if (end > start && bytes + size > BATCH_MAX_BYTES) break;
      bytes += size;
      end++;
    }
    if (end - start === 1) entry(packer, stream, 0, list[start]!);
    else entry(packer, stream, end - start - 1, ['M', batchValue(list.slice(start, end))]);
    start = end;
  }
}
