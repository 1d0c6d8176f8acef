/**
 * The transport's own connection outside the pool: it `LISTEN`s for wake-ups, holds a session
 * advisory lock that tells other transports this one is alive, and is the transport's canary for
 * the link (`pg-link.ts`):
 *
 * - **Lost**: an error or end of the connection calls `onLost`; the link then reconnects through
 *   {@link PgListener.open}, one attempt at a time.
 * - **Silent** (a half-open link: nothing arrives, nothing closes): the listener pings the server
 *   (`select 1`) every `heartbeatMs`; when a ping is still unanswered a whole interval later and
 *   nothing at all came from the server for an interval (a busy link whose `NOTIFY`s are answered
 *   is alive, its ping only queued), once the turn's input was read, the connection is dropped and
 *   `onLost` called with `silent`. A dead link is therefore noticed within two intervals (plus a
 *   late timer on a starved event loop). TCP keepalive is on too (after 10 s idle), for links no
 *   ping crosses.
 * - **Connecting** gives up after `connectTimeoutMs` (a blackholed server accepts and never answers).
 *
 * @example
 * ```ts
 * const listener = new PgListener({ connectionString, channel: 'missive:missive', lock: [k1, k2], onNotify: wake, onLost, heartbeatMs: 5000, logger });
 * await listener.open();
 * ```
 * @module
 */
import pg from 'pg';
import { TransportError, type Logger } from '@missive/core';

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
  /** The connection was lost (`silent`: it stopped answering pings). Not called after `close`. */
  readonly onLost: (error: Error, silent: boolean) => void;
  /** The ping interval; unanswered for one more interval, the link is dead. */
  readonly heartbeatMs: number;
  /** How long a connection attempt may take. */
  readonly connectTimeoutMs: number;
  readonly logger: Logger;
}

/** The listening connection. */
export class PgListener {
  private client: pg.Client | undefined;
  private closed = false;
  private last: Promise<void> = Promise.resolve();
  private pingTimer: NodeJS.Timeout | undefined;
  /** When the unanswered ping was sent (0: none is). */
  private pingSent = 0;
  /** When the server last answered a statement or sent a notification. */
  private lastHeard = 0;

  constructor(private readonly options: PgListenerOptions) {}

  /** Whether the connection is up now. */
  get up(): boolean {
    return this.client !== undefined;
  }

  /** One connection attempt: connect, take the lock, listen. Rejects when it fails. */
  async open(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.options.connectionString,
      application_name: this.options.applicationName,
      connectionTimeoutMillis: this.options.connectTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    client.on('error', (error) => this.lost(client, error, false));
    client.on('end', () => this.lost(client, new Error('the listening connection ended'), false));
    // Its own notifications (sent on this connection) were already handled in-process.
    client.on('notification', (n) => {
      this.lastHeard = Date.now();
      if (n.processId !== (client as unknown as { processID?: number }).processID) this.options.onNotify(n.payload ?? '', n.processId);
    });
    try {
      await client.connect();
      await client.query('select pg_advisory_lock($1, $2)', [this.options.lock[0], this.options.lock[1]]);
      await client.query(`listen "${this.options.channel}"`);
    } catch (error) {
      client.removeAllListeners('end');
      client.removeAllListeners('error');
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.closed) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.last = Promise.resolve();
    this.pingSent = 0;
    this.lastHeard = Date.now();
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.beat(client), this.options.heartbeatMs);
    this.pingTimer.unref();
  }

  /** Pings; or, when the last ping is still unanswered a whole interval later, drops the connection. */
  private beat(client: pg.Client): void {
    if (this.client !== client) return;
    if (this.pingSent === 0) {
      void this.ping(client).catch(() => undefined);
      return;
    }
    // Decide after this turn's input was read: on a starved event loop the answer may be waiting in the socket.
    setImmediate(() => {
      if (this.client !== client || this.pingSent === 0 || !this.silent()) return;
      const silentMs = Date.now() - this.lastHeard;
      this.lost(client, new TransportError(`PostgreSQL did not answer on the listening connection for ${silentMs} ms (ping)`), true);
    });
  }

  /** Nothing came from the server for a whole interval. */
  private silent(): boolean {
    return Date.now() - Math.max(this.lastHeard, this.pingSent) >= this.options.heartbeatMs;
  }

  private async ping(client: pg.Client): Promise<void> {
    this.pingSent = Date.now();
    await this.run(client, { text: 'select 1' });
    if (this.client === client) this.pingSent = 0;
  }

  /**
   * Checks the link now: resolves when the server answers a ping within `heartbeatMs` (or, its ping
   * queued behind other statements, was heard from within the last interval); otherwise drops the
   * connection (calling `onLost`) and rejects.
   */
  async check(): Promise<void> {
    const client = this.client;
    if (client === undefined) throw new TransportError('the listening connection is down');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => {
        if (this.client === client && Date.now() - this.lastHeard < this.options.heartbeatMs) return resolve(); // busy, not dead
        const error = new TransportError(`PostgreSQL did not answer a ping within ${this.options.heartbeatMs} ms`);
        this.lost(client, error, true);
        reject(error);
      }, this.options.heartbeatMs);
    });
    try {
      await Promise.race([this.run(client, { text: 'select 1' }), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private lost(client: pg.Client, error: Error, silent: boolean): void {
    if (client !== this.client) return;
    this.client = undefined;
    clearInterval(this.pingTimer);
    client.removeAllListeners('end');
    client.removeAllListeners('error');
    client.on('error', () => undefined);
    void client.end().catch(() => undefined); // with a statement under way (a ping), pg destroys the socket
    if (!this.closed) this.options.onLost(error, silent);
  }

  /** One statement at a time on this connection (pg deprecates queueing on a busy client). */
  private async run(client: pg.Client, query: pg.QueryConfig): Promise<void> {
    const run = this.last
      .then(() => client.query(query))
      .then(() => {
        this.lastHeard = Date.now();
      });
    this.last = run.then(
      () => undefined,
      () => undefined,
    );
    await run;
  }

  /** Closes the connection (releasing the lock). */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pingTimer);
    const client = this.client;
    this.client = undefined;
    if (client !== undefined) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
    }
  }
}
