/**
 * The transport's side of the queue registry (`missive.registry`, a stream; records in
 * `queue-registry.ts`): declaring it once, following it on every connection, reading it up to a
 * marker of one's own, and appending this transport's records again every day so they outlive the
 * stream's retention. Where the broker refuses the stream, the registry is unavailable: `queues()`
 * lists only this connection's queues and every type's exchange feeds `missive.topics`.
 *
 * @example
 * ```ts
 * const registry = new RabbitRegistry(link, logger, (channel) => appendOwnRecords(channel));
 * const { types } = await registry.readAfter(channel, typesRecord(['shop.order-placed']));
 * ```
 * @module
 */
import type * as amqp from 'amqplib';
import { TransportError, type Logger } from '@missive/core';
import { REGISTRY_QUEUE, REGISTRY_REFRESH_MS, RegistryFollower, appendRecord, assertRegistry, type Registry } from './queue-registry.js';

/** What the registry needs of the live connection. */
export interface RegistryLink {
  readonly open: boolean;
  isConnection(connection: amqp.ChannelModel): boolean;
  adminChannel(): Promise<amqp.Channel>;
}

/** The registry on the transport's connection. */
export class RabbitRegistry {
  /** The stream exists (declared on the first connection). */
  available = false;
  /** This transport's live reader of the registry. */
  readonly view: RegistryFollower;
  /** Settles once the view follows the stream on the current connection. */
  private following: Promise<void> | undefined;
  /** The channel the view reads on, while it is open. */
  private reader: amqp.Channel | undefined;
  /** Counts the starts of a read: only the latest one reads (see `follow`). */
  private starts = 0;
  /** The connection the registry was set up on. */
  private connection: amqp.ChannelModel | undefined;
  /** Someone needed the view: it follows on every connection from then on. */
  private wanted = false;
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly link: RegistryLink,
    private readonly logger: Logger,
    /** Appends this transport's own records (queues, types, claims) again. */
    private readonly appendOwn: (channel: amqp.Channel) => void,
  ) {
    this.view = new RegistryFollower(logger);
  }

  /**
   * On a new connection: declares the stream (once), and follows it again if it was followed. Returns the admin
   * channel to go on with: a refused declaration closes the one it was given, so it opens another.
   */
  async setUp(connection: amqp.ChannelModel, admin: amqp.Channel, reopen: () => Promise<amqp.Channel>): Promise<amqp.Channel> {
    if (!this.available) {
      try {
        await assertRegistry(admin);
        this.available = true;
      } catch (error) {
        this.logger.warn(
          { err: (error as Error).message },
          `cannot declare the queue registry (${REGISTRY_QUEUE}, a stream); queues() lists only this connection's queues and every type's exchange feeds missive.topics`,
        );
        return reopen();
      }
    }
    // Lost (and maybe replaced) while the registry was declared: the newer connection's setup follows it.
    if (!this.link.isConnection(connection)) return admin;
    // The same connection set up again (its publisher channel was closed, by a publish to a deleted
    // exchange): the view reads on as it did. A second read started beside the first left it reading nothing.
    if (connection === this.connection && this.reader !== undefined) return admin;
    this.connection = connection;
    this.following = undefined;
    if (this.wanted) void this.ensureFollowing();
    if (this.refreshTimer === undefined) {
      this.refreshTimer = setInterval(
        () => void this.refresh().catch((error: unknown) => this.logger.warn({ err: error }, 'could not refresh the queue registry')),
        REGISTRY_REFRESH_MS,
      );
      this.refreshTimer.unref();
    }
    return admin;
  }

  /**
   * Settles once the view follows the stream on the current connection (rejects if it could not).
   * The view starts following on first need, not at connect: reading a long registry from its first
   * record is the slowest part of a connection, and a transport that only sends, deletes or lists
   * dead letters never needs it. Once it did, it follows again on every new connection.
   */
  ensureFollowing(): Promise<void> {
    this.wanted = true;
    const connection = this.connection;
    if (this.following === undefined && connection !== undefined) {
      this.following = this.follow(connection, 0);
      this.following.catch(() => undefined);
    }
    return this.following ?? Promise.resolve();
  }

  /** Appends `record` on `channel`, then waits until the view has read everything up to a marker after it. */
  async readAfter(channel: amqp.Channel, record: Buffer): Promise<Registry> {
    await this.ensureFollowing();
    // Same channel as the record: the marker lands after it in the stream. Appended again (both, on
    // the admin channel) while the marker is not read: the first pair may have been dropped.
    await this.view.sync(async (marker, again) => {
      // Again: on the admin channel, in the background (the first append's own channel may be gone).
      const on = again ? await this.link.adminChannel() : channel;
      appendRecord(on, record);
      appendRecord(on, marker);
    });
    return this.view;
  }

  /** Waits until the view has read everything appended so far (by anyone). */
  async catchUp(): Promise<Registry> {
    await this.ensureFollowing();
    const channel = await this.link.adminChannel();
    await this.view.sync(async (marker, again) => appendRecord(again ? await this.link.adminChannel() : channel, marker));
    return this.view;
  }

  /**
   * Appends the records of this transport's queues and types to the registry again, so they outlive
   * its retention while the transport lives. Runs every day by itself.
   */
  async refresh(): Promise<void> {
    if (!this.available) return;
    this.appendOwn(await this.link.adminChannel());
  }

  stop(): void {
    clearInterval(this.refreshTimer);
  }

  /**
   * Starts following the registry on `connection`, trying again (backoff up to 5 s, about a minute in
   * all) while the stream is not ready. A later start supersedes this one: the earlier reader channel
   * is closed, and this one's, if it comes after, too.
   */
  private async follow(connection: amqp.ChannelModel, failures: number): Promise<void> {
    const start = ++this.starts;
    try {
      const reader = await connection.createChannel();
      reader.on('error', () => undefined);
      reader.on('close', () => {
        if (this.reader === reader) this.reader = undefined;
      });
      if (start !== this.starts) {
        await reader.close().catch(() => undefined);
        return this.following; // the later start's
      }
      const previous = this.reader;
      this.reader = reader;
      if (previous !== undefined) void previous.close().catch(() => undefined);
      await this.view.follow(reader);
    } catch (error) {
      if (start !== this.starts) return this.following; // superseded: the later start reads
      if (!this.link.open || !this.link.isConnection(connection) || failures >= 15)
        throw new TransportError(`cannot read the queue registry (${REGISTRY_QUEUE}): ${(error as Error).message}`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 100 * 2 ** failures)));
      return this.follow(connection, failures + 1);
    }
  }
}
