/**
 * Publishing and sending on the SQLite transport. The writes asked for in one event-loop turn (a
 * window of publishes resumed by one commit is one batch) go into the database in one
 * `BEGIN IMMEDIATE` transaction, written in the next turn, in the order they were asked for; each
 * one's promise resolves after that commit. The same durability per message as a transaction each,
 * with one commit (and one wait for the write lock other processes share) per batch instead of
 * per message.
 *
 * A publish refused on its own (no queue bound to a mandatory topic, no such queue for a send)
 * fails alone, before it writes anything; when the batch's transaction fails as a whole, each write
 * is tried again in a transaction of its own, so each gets its own outcome. Batches never overlap:
 * one retrying while the database is busy holds the next back, so order is kept.
 *
 * @example
 * ```ts
 * const publishing = new SqlitePublishing(connection, () => (dueDirty = true));
 * await publishing.publish('shop.order-placed', message);
 * ```
 * @module
 */
import { UnroutableError, type TransportMessage } from '@missive/core';
import { topicMatcher, type EnqueueOptions } from '@missive/core/transport';
import type { SqliteConnection } from './sqlite-link.js';

interface PendingWrite {
  readonly write: () => void;
  readonly doing: string;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

interface Routes {
  readonly version: number;
  readonly bindings: readonly { readonly queue: string; readonly matches: (topic: string) => boolean }[];
}

/** Publishes and sends of one connection. */
export class SqlitePublishing {
  private routes: Routes = { version: -1, bindings: [] };
  /** Whether the routing cache was checked against the bindings version in the current transaction. */
  private routesChecked = false;
  private pending: PendingWrite[] = [];
  private flushing: Promise<void> | undefined;

  /** `scheduled` is told when a message goes to the scheduled table (the next due time must be looked up again). */
  constructor(
    private readonly connection: SqliteConnection,
    private readonly scheduled: () => void,
  ) {}

  /** Routes `message` to every queue bound to `topic`; resolves after the commit. */
  publish(topic: string, message: TransportMessage, options?: EnqueueOptions): Promise<void> {
    return this.add(() => {
      const queues = this.queuesFor(topic);
      if (queues.length === 0 && options?.mandatory === true) throw new UnroutableError(topic);
      for (const queue of queues) this.enqueue(queue, message, options);
    }, `publish ${message.type}`);
  }

  /** Puts `message` in `queue`; resolves after the commit. */
  send(queue: string, message: TransportMessage, options?: EnqueueOptions): Promise<void> {
    return this.add(() => {
      if (this.connection.statements.queueGet.get(queue) === undefined) throw new UnroutableError(queue, 'no such queue');
      this.enqueue(queue, message, options);
    }, `send ${message.type} to ${queue}`);
  }

  /**
   * Resolves once every write asked for before the call is committed (or failed): other writes of
   * the connection that must come after them (a cancel, a queue's deletion, close) wait for it.
   */
  async flush(): Promise<void> {
    if (this.flushing !== undefined) await this.flushing;
    if (this.flushing !== undefined) await this.flushing;
    else if (this.pending.length > 0) await this.flushNext();
  }

  private add(write: () => void, doing: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ write, doing, resolve, reject });
      if (this.pending.length === 1 && this.flushing === undefined) setImmediate(this.flushSoon);
    });
  }

  private readonly flushSoon = (): void => {
    if (this.flushing === undefined && this.pending.length > 0) void this.flushNext();
  };

  /**
   * Writes the waiting batch. What is asked for meanwhile waits for the next batch, written in the
   * next event-loop turn: the publishes this batch's callers make in turn join it (continuing here
   * at once would write them one at a time), and the loop turns between batches, so the bus never
   * has to yield a turn per publish to let timers run (see core's `LoopTurns`).
   */
  private flushNext(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    this.flushing = this.writeBatch(batch).finally(() => {
      this.flushing = undefined;
      if (this.pending.length > 0) setImmediate(this.flushSoon);
    });
    return this.flushing;
  }

  private async writeBatch(batch: readonly PendingWrite[]): Promise<void> {
    const c = this.connection;
    const refused: (Error | undefined)[] = [];
    try {
      await c.withBusyRetry(
        () => {
          refused.length = 0;
          this.routesChecked = false;
          c.db
            .transaction(() => {
              for (const item of batch) refused.push(refuses(item.write));
            })
            .immediate();
        },
        batch.length === 1 ? batch[0]!.doing : `${batch[0]!.doing} and ${batch.length - 1} more`,
      );
    } catch (error) {
      if (batch.length === 1) batch[0]!.reject(error as Error);
      else for (const item of batch) await this.writeAlone(item);
      c.wake();
      return;
    }
    for (let i = 0; i < batch.length; i++) {
      const error = refused[i];
      if (error === undefined) batch[i]!.resolve();
      else batch[i]!.reject(error);
    }
    c.wake();
  }

  private async writeAlone(item: PendingWrite): Promise<void> {
    const c = this.connection;
    try {
      await c.withBusyRetry(() => {
        this.routesChecked = false;
        c.db.transaction(item.write).immediate();
      }, item.doing);
      item.resolve();
    } catch (error) {
      item.reject(error as Error);
    }
  }

  private enqueue(queue: string, message: TransportMessage, options: EnqueueOptions | undefined): void {
    const s = this.connection.statements;
    const body = Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength);
    const headers = JSON.stringify(message.headers);
    const notBefore = options?.notBefore;
    if (notBefore !== undefined && notBefore > this.connection.clock.now()) {
      this.scheduled();
      s.scheduledInsert.run(
        queue,
        options?.scheduleId ?? null,
        notBefore,
        message.id,
        message.type,
        body,
        headers,
        message.partitionKey ?? null,
      );
    } else {
      s.messageInsert.run(queue, message.id, message.type, body, headers, message.partitionKey ?? null);
    }
  }

  /** Queues bound to a topic, from a routing cache reloaded only when the bindings changed (looked at once per transaction). */
  private queuesFor(topic: string): string[] {
    if (!this.routesChecked) {
      const s = this.connection.statements;
      const version = (s.bindingsVersion.get() as { value: number }).value;
      if (version !== this.routes.version) {
        this.routes = {
          version,
          bindings: (s.bindings.all() as { queue: string; pattern: string }[]).map((b) => ({
            queue: b.queue,
            matches: topicMatcher(b.pattern),
          })),
        };
      }
      this.routesChecked = true;
    }
    const out: string[] = [];
    for (const b of this.routes.bindings) if (b.matches(topic) && !out.includes(b.queue)) out.push(b.queue);
    return out;
  }
}

/** Runs `write`; an `UnroutableError` (thrown before anything is written) is that write's own outcome. */
function refuses(write: () => void): Error | undefined {
  try {
    write();
    return undefined;
  } catch (error) {
    if (error instanceof UnroutableError) return error;
    throw error;
  }
}
