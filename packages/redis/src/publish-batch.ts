/**
 * Publishes made together (before the microtasks of this turn have all run) go to Redis as one script call: the routing version is
 * checked once and every message is written to every stream its topic routes to, all or nothing.
 * Each publish resolves when that call returns (Redis has the messages; durable as the server's
 * persistence makes it). A stale routing version re-reads the bindings and tries the batch again.
 *
 * @example
 * ```ts
 * const batch = new PublishBatch(transport);
 * await batch.add('shop.order-placed', entryFields(message));
 * ```
 * @module
 */
import { TransportError, UnroutableError } from '@missive/core';
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
      // One packed argument for the whole batch: ioredis's cost is per argument (see pack.ts).
      const packer = new Packer();
      const routed: number[] = [];
      for (const p of batch) {
        const streams = transport.streamsOf(routes, p.topic);
        routed.push(streams.length);
        packer.number(streams.length);
        for (const stream of streams) packer.string(stream);
        packer.number(p.fields.length);
        for (const field of p.fields) {
          if (typeof field === 'string') packer.string(field);
          else packer.bytes(field);
        }
      }
      const args = [routes.version, packer.finish()];
      if ((await transport.scripts.run('publishBatch', [transport.keys.version], args)) === null) return routed;
      transport.staleRoutes();
    }
    throw new TransportError('publish: the queue bindings kept changing during 10 attempts');
  }
}
