/**
 * The transport's own connection outside the pool: it `LISTEN`s for wake-ups and holds a session
 * advisory lock that tells other transports this one is alive. It reconnects with backoff when
 * the connection is lost (a terminated backend, a restarted server); after each (re)connect it
 * calls `onUp`, so the transport re-registers itself and looks for work it was not told about.
 *
 * @example
 * ```ts
 * const listener = new PgListener({ connectionString, channel: 'missive:missive', lock: [k1, k2], onNotify: wake, onUp, logger });
 * await listener.start();
 * ```
 * @module
 */
import pg from 'pg';
import type { Logger } from '@missive/core';

/** What the listener needs. */
export interface PgListenerOptions {
  readonly connectionString: string;
  readonly applicationName: string;
  /** The notification channel. */
  readonly channel: string;
  /** The session advisory lock (two int4 keys) held while connected. */
  readonly lock: readonly [number, number];
  /** A notification from another session; `processId` is the server process that sent it. */
  readonly onNotify: (payload: string, processId: number) => void;
  /** After every successful (re)connect, before notifications are trusted again. */
  readonly onUp: () => Promise<void>;
  readonly logger: Logger;
}

/** The listening connection. */
export class PgListener {
  private client: pg.Client | undefined;
  private closed = false;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private last: Promise<void> = Promise.resolve();
  /** Whether the connection is up now. */
  up = false;

  constructor(private readonly options: PgListenerOptions) {}

  /** Connects the first time; rejects when that fails (the caller reports the configuration fault). */
  async start(): Promise<void> {
    await this.open();
  }

  private async open(): Promise<void> {
    const client = new pg.Client({ connectionString: this.options.connectionString, application_name: this.options.applicationName });
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, undefined));
    // Its own notifications (sent on this connection) were already handled in-process.
    client.on('notification', (n) => {
      if (n.processId !== (client as unknown as { processID?: number }).processID) this.options.onNotify(n.payload ?? '', n.processId);
    });
    try {
      await client.connect();
      await client.query('select pg_advisory_lock($1, $2)', [this.options.lock[0], this.options.lock[1]]);
      await client.query(`listen "${this.options.channel}"`);
    } catch (error) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.closed) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.up = true;
    this.attempt = 0;
    await this.options.onUp();
  }

  private lost(client: pg.Client, error: Error | undefined): void {
    if (client !== this.client) return;
    this.client = undefined;
    this.up = false;
    client.removeAllListeners('end');
    void client.end().catch(() => undefined);
    if (this.closed) return;
    this.options.logger.warn({ err: error }, 'postgres listening connection lost; reconnecting');
    this.retry();
  }

  private retry(): void {
    if (this.closed) return;
    const delay = Math.min(2000, 50 * 2 ** Math.min(this.attempt++, 6));
    this.retryTimer = setTimeout(() => {
      this.open().catch((error: unknown) => {
        this.options.logger.debug({ err: error }, 'postgres reconnect failed; trying again');
        this.retry();
      });
    }, delay);
    this.retryTimer.unref();
  }

  /**
   * Runs a statement on the listening connection (idle but for notifications, so it never waits for
   * a pool slot). Rejects when the connection is down.
   */
  async query(statement: { readonly name: string; readonly text: string }, values: unknown[]): Promise<void> {
    const client = this.client;
    if (client === undefined) throw new Error('the listening connection is down');
    // One statement at a time on this connection (pg deprecates queueing on a busy client).
    const run = this.last.then(() => client.query({ name: statement.name, text: statement.text, values }));
    this.last = run.then(
      () => undefined,
      () => undefined,
    );
    await run;
  }

  /** Closes the connection (releasing the lock) and stops reconnecting. */
  async close(): Promise<void> {
    this.closed = true;
    this.up = false;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    if (client !== undefined) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
    }
  }
}
