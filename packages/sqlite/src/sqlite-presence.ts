/**
 * A SQLite transport connection's presence among the processes sharing the file: its heartbeat
 * (which also extends its leases), the rows saying which queues it consumes, the reaping of
 * connections whose process is gone, and the wake-ups that make consumers fetch.
 *
 * - **Heartbeat**: every `min(2 s, lease / 3)`, one transaction refreshes the connection's row,
 *   extends its unsettled leases and writes its consumer rows (changes are noted, not written, when
 *   a consumer starts or stops: that costs no commit of its own).
 * - **Reaping**: a connection whose pid is gone, or whose heartbeat stopped for three leases, has its
 *   leases released and its temporary queues deleted, so its messages go to other consumers at once.
 * - **Wake-up**: a file-system watch on the database's directory (inotify) wakes consumers when any
 *   process commits; a slow poll is the fallback (and reaps).
 *
 * @example
 * ```ts
 * const presence = new SqlitePresence(connection, { id, options, dropQueue });
 * presence.start();
 * ```
 * @module
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { SqliteConnection } from './sqlite-link.js';
import type { ResolvedSqliteOptions } from './sqlite-options.js';
import { isBusy } from './sqlite-busy.js';

/** How often a connection's heartbeat is written at most. */
export const HEARTBEAT_MS = 2000;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}

/** What presence needs besides the connection. */
export interface PresenceDeps {
  /** The connection's id: the owner of its leases and temporary queues. */
  readonly id: string;
  readonly options: ResolvedSqliteOptions;
  /** Deletes a queue with everything it holds (inside the caller's transaction). */
  readonly dropQueue: (name: string) => void;
}

/** The presence of one connection. */
export class SqlitePresence {
  /** Consumers started (true) or stopped (false) since the last heartbeat, by queue. */
  private readonly consumerChanges = new Map<string, boolean>();
  private consumersSeenAt = 0;
  private lastReap = 0;
  private watcher: FSWatcher | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly connection: SqliteConnection,
    private readonly deps: PresenceDeps,
  ) {}

  /** After this long without a heartbeat a connection is dead and a consumer row no longer counts. */
  staleAfterMs(): number {
    return 3 * this.deps.options.leaseMs + HEARTBEAT_MS;
  }

  /** Starts the watch, the poll and the heartbeat. */
  start(): void {
    const { path, pollMs, leaseMs } = this.deps.options;
    const file = basename(path);
    try {
      this.watcher = watch(dirname(path), { persistent: false }, (_event, name) => {
        if (name === null || String(name).startsWith(file)) this.connection.wake();
      });
      this.watcher.on('error', () => undefined);
    } catch (error) {
      this.connection.logger.warn({ err: error }, 'sqlite transport cannot watch its database directory; falling back to polling');
    }
    this.pollTimer = setInterval(() => {
      this.reap(false);
      this.connection.wake(true);
    }, pollMs);
    this.pollTimer.unref();
    this.heartbeatTimer = setInterval(() => void this.beat(), Math.min(HEARTBEAT_MS, Math.floor(leaseMs / 3)));
    this.heartbeatTimer.unref();
  }

  /** Stops the timers and the watch. */
  stop(): void {
    clearInterval(this.pollTimer);
    clearInterval(this.heartbeatTimer);
    this.watcher?.close();
  }

  /** Keeps the process alive while it consumes (as a broker's socket would), or lets it go. */
  holdProcess(hold: boolean): void {
    if (hold) this.pollTimer?.ref();
    else this.pollTimer?.unref();
  }

  /** Notes that this connection consumes `queue` (or stopped); written with the next heartbeat. */
  markConsumer(queue: string, active: boolean): void {
    this.consumerChanges.set(queue, active);
  }

  /** Registers the connection (inside the caller's transaction). */
  register(now: number): void {
    const s = this.connection.statements;
    s.connectionUpsert.run(this.deps.id, process.pid, now);
    // Of the rows of departed consumers only the newest of each queue says anything (since when it is idle).
    s.consumersPrune.run();
  }

  /** Marks every consumer of this connection gone and removes the connection (inside the caller's transaction, at close). */
  leave(now: number): void {
    const s = this.connection.statements;
    for (const queue of this.consumerChanges.keys()) s.consumerSeen.run(queue, this.deps.id, 0, now);
    this.consumerChanges.clear();
    s.consumersLeft.run(now, this.deps.id);
    s.connectionDelete.run(this.deps.id);
  }

  private async beat(): Promise<void> {
    const c = this.connection;
    try {
      await c.withBusyRetry(() => {
        if (!c.isOpen) return;
        const now = c.clock.now();
        // One transaction: one commit (one fsync with synchronous=full) for the heartbeat, the leases and the consumer rows.
        c.db
          .transaction(() => {
            c.statements.connectionUpsert.run(this.deps.id, process.pid, now);
            c.statements.extend.run(now + this.deps.options.leaseMs, this.deps.id);
            this.recordConsumers(now);
          })
          .immediate();
      });
    } catch (error) {
      c.logger.warn({ err: error }, 'sqlite heartbeat failed');
    }
  }

  /**
   * Writes the consumer changes noted since the last heartbeat, and refreshes this connection's
   * consumer rows every {@link HEARTBEAT_MS}, so `queues()` can count consumers and say since when
   * a queue has had none (to within a heartbeat).
   */
  private recordConsumers(now: number): void {
    if (this.consumerChanges.size === 0 && now - this.consumersSeenAt < HEARTBEAT_MS) return;
    const s = this.connection.statements;
    for (const [queue, active] of this.consumerChanges) s.consumerSeen.run(queue, this.deps.id, active ? 1 : 0, now);
    s.consumersHeartbeat.run(now, this.deps.id);
    this.consumerChanges.clear();
    this.consumersSeenAt = now;
  }

  /**
   * Releases the leases and deletes the temporary queues of connections whose process is gone (or
   * whose heartbeat stopped for three leases), so their messages go to other consumers at once.
   */
  reap(force: boolean): void {
    const c = this.connection;
    const now = c.clock.now();
    if (!force && now - this.lastReap < 1000) return;
    this.lastReap = now;
    try {
      const s = c.statements;
      const dead = (s.connections.all() as { id: string; pid: number; heartbeat: number }[]).filter(
        (row) => row.id !== this.deps.id && (!pidAlive(row.pid) || now - row.heartbeat > this.staleAfterMs()),
      );
      if (dead.length === 0) return;
      c.db
        .transaction(() => {
          for (const row of dead) {
            s.releaseOwner.run(row.id);
            s.consumersGone.run(row.id);
            for (const { name } of s.ownedQueues.all(row.id) as { name: string }[]) this.deps.dropQueue(name);
            s.connectionDelete.run(row.id);
          }
        })
        .immediate();
      c.logger.info(`sqlite transport reaped ${dead.length} dead connection(s)`);
      c.wake();
    } catch (error) {
      if (!isBusy(error)) c.logger.warn({ err: error }, 'sqlite reaping failed');
    }
  }
}
