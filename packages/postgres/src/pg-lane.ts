/**
 * A pool and the gate in front of it: at most `size` operations (the pool's size) are inside the
 * pool at a time, the rest wait here in order. Without the gate, requests queued inside `pg`'s pool
 * each start a connection attempt of their own when connecting fails (1,000 publishes waiting: 1,000
 * attempts in a burst); with it, at most `size` attempts fail before the link (`pg-link.ts`) holds
 * everyone (an operation whose turn comes while the link is down is not run: {@link LinkDown}). The lane also knows its connections, so a dead link's can be dropped at once (see
 * {@link Lane.dropAll}).
 *
 * @example
 * ```ts
 * const lane = new Lane(pool, 10);
 * const { rows } = await lane.use((pool) => pool.query('select 1'));
 * ```
 * @module
 */
import type pg from 'pg';

/** The link went down while the operation waited for its turn: it was not run (wait for the link, then run it). */
export class LinkDown extends Error {
  override name = 'LinkDown';
}

/** A gated pool. */
export class Lane {
  private active = 0;
  private readonly queue: (() => void)[] = [];
  private readonly clients = new Set<pg.Client>();

  constructor(
    readonly pool: pg.Pool,
    private readonly size: number,
    /** Whether the link is up: an operation whose turn comes while it is not throws {@link LinkDown}. */
    private readonly linkUp: () => boolean = () => true,
  ) {
    pool.on('connect', (client) => this.clients.add(client));
    pool.on('remove', (client) => this.clients.delete(client));
  }

  /**
   * Whether `processId` is the server process of one of this pool's connections (a notification
   * it sent is this transport's own).
   */
  hasBackend(processId: number): boolean {
    for (const client of this.clients) if ((client as unknown as { processID: number }).processID === processId) return true;
    return false;
  }

  /** Runs `work` on the pool once fewer than `size` operations are inside it. */
  async use<T>(work: (pool: pg.Pool) => Promise<T>): Promise<T> {
    if (this.active < this.size) this.active++;
    else await new Promise<void>((resolve) => this.queue.push(resolve));
    try {
      if (!this.linkUp()) throw new LinkDown('the link to PostgreSQL went down while the operation waited for a connection');
      return await work(this.pool);
    } finally {
      const next = this.queue.shift();
      if (next === undefined) this.active--;
      else next(); // the slot passes on
    }
  }

  /**
   * Drops every connection of the pool (the link stopped answering): statements under way fail at
   * once with a connection error, and idle connections are gone rather than handed out dead.
   */
  dropAll(reason: Error): void {
    // A plain Error, as pg's own connection errors are: the statements under way are run again (pg-errors.ts).
    const error = new Error(`the connection was dropped: ${reason.message}`);
    for (const client of this.clients) client.connection.stream.destroy(error);
    this.clients.clear();
  }
}
