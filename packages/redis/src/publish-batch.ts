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
import { TransportError } from '@missive/core';
import type { RedisConnection } from './redis-connection.js';

const MAX_BATCH = 500;

interface Pending {
  readonly topic: string;
  readonly fields: readonly (string | Buffer)[];
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** The publish batch of one transport. */
export class PublishBatch {
  private pending: Pending[] = [];

  constructor(private readonly transport: RedisConnection) {}

  /** Queues a publish for this turn's batch. */
  add(topic: string, fields: readonly (string | Buffer)[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ topic, fields, resolve, reject });
      if (this.pending.length === 1) process.nextTick(() => void this.flush());
    });
  }

  /** Sends what is queued (also called when the transport closes). */
  async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, MAX_BATCH);
      try {
        await this.send(batch);
        for (const p of batch) p.resolve();
      } catch (error) {
        const failure = this.transport.failure('publish', error);
        for (const p of batch) p.reject(failure);
      }
    }
  }

  private async send(batch: readonly Pending[]): Promise<void> {
    const transport = this.transport;
    for (let attempt = 0; attempt < 10; attempt++) {
      const routes = await transport.currentRoutes();
      const args: (string | number | Buffer)[] = [routes.version];
      for (const p of batch) {
        const queues = transport.routeOf(routes, p.topic);
        args.push(queues.length);
        for (const queue of queues) args.push(transport.keys.stream(queue));
        args.push(p.fields.length, ...p.fields);
      }
      if ((await transport.scripts.run('publishBatch', [transport.keys.version], args)) === null) return;
      transport.staleRoutes();
    }
    throw new TransportError('publish: the queue bindings kept changing during 10 attempts');
  }
}
