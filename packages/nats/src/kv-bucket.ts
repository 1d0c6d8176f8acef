/**
 * The transport's key-value buckets (command owners, consumer records), opened so that their first
 * read cannot be lost.
 *
 * **The race this guards against.** A key-value read is a JetStream direct get, a request the
 * stream answers itself (a queue subscription on `$JS.API.DIRECT.GET.<stream>` that the server
 * makes when it sets the stream up). nats-server 2.9 registers a new stream under its name before
 * that subscription exists (the file store is made in between, which is disk work). A second
 * process that opens the same bucket in that window (two instances starting at once on a fresh
 * system) sees the stream, from `stream info` or from its own create, which answers "already
 * exists", and sends its read. Nothing answers it: servers before 2.10.28 drop a request no
 * subscription takes without a word (later ones answer "no responders"). So the read fails with
 * `TIMEOUT` after the JetStream API timeout, 5 s, and the bus's start with it (seen in CI: three
 * instances of one endpoint starting together).
 *
 * So {@link KvBucket.open} asks the bucket a direct get of a key nobody writes until something
 * answers (a 404 is an answer): short attempts (250 ms, doubling to 2 s) up to
 * {@link ANSWER_DEADLINE_MS}. A bucket that never answers fails the open with a `TransportError`
 * that names the subject and the two likely causes (a server too busy, or a user that may not
 * publish to `$JS.API.DIRECT.GET.>`), instead of a bare `TIMEOUT` on a later read.
 *
 * @example
 * ```ts
 * const owners = new KvBucket(host, 'MISSIVE_OWNERS', { what: 'command owners' });
 * const kv = await owners.open();
 * ```
 * @module
 */
import { ErrorCode, StorageType, type KV, type NatsConnection } from 'nats';
import { TransportError, type Logger } from '@missive/core';
import { apiCode, ApiError } from './api-errors.js';

/** How long an open waits in all for the bucket to answer its first direct get. */
export const ANSWER_DEADLINE_MS = 15_000;
/** The first attempt's timeout; each next one doubles, up to {@link MAX_ATTEMPT_MS}. */
const FIRST_ATTEMPT_MS = 250;
const MAX_ATTEMPT_MS = 2_000;
/** Waits shorter than this are the creation race, not worth a warning. */
const QUIET_MS = 1_000;
/** A key Missive never writes: the probe's read finds nothing, and a 404 is the answer it waits for. */
const PROBE_KEY = '_missive_probe';

/** What a bucket needs of the transport. */
export interface BucketHost {
  readonly nc: NatsConnection;
  readonly replicas: number;
  readonly logger: Logger;
}

/** How a bucket is made. */
export interface BucketOptions {
  /** What the bucket holds, for messages ("command owners"). */
  readonly what: string;
  /** How long a record is kept (none: for ever). */
  readonly ttlMs?: number;
}

/** One key-value bucket of the transport, made on first use. */
export class KvBucket {
  private opened: Promise<KV> | undefined;

  constructor(
    private readonly host: BucketHost,
    /** The bucket's name (its stream is `KV_<name>`). */
    readonly name: string,
    private readonly options: BucketOptions,
  ) {}

  /** The bucket, made if it is not there, once it answers reads (see the module notes). */
  open(): Promise<KV> {
    this.opened ??= this.make().catch((error: unknown) => {
      this.opened = undefined;
      if (error instanceof TransportError) throw error;
      throw new TransportError(`the ${this.options.what} bucket ${this.name} could not be opened: ${(error as Error).message}`, {
        cause: error,
      });
    });
    return this.opened;
  }

  /** Whether the bucket exists (without making it). */
  async exists(): Promise<boolean> {
    if (this.opened !== undefined) return true;
    const jsm = await this.host.nc.jetstreamManager({ checkAPI: false });
    return jsm.streams.info(`KV_${this.name}`).then(
      () => true,
      (error: unknown) => {
        if (apiCode(error) === ApiError.StreamNotFound) return false;
        throw error;
      },
    );
  }

  private async make(): Promise<KV> {
    const kv = await this.host.nc.jetstream().views.kv(this.name, {
      history: 1,
      replicas: this.host.replicas,
      storage: StorageType.File,
      ...(this.options.ttlMs === undefined ? {} : { ttl: this.options.ttlMs }),
    });
    if ((await kv.status()).streamInfo.config.allow_direct === true)
      await untilAnswering(this.host.nc, this.name, { logger: this.host.logger, what: this.options.what });
    return kv;
  }
}

/**
 * Resolves once the bucket's stream answers a direct get (with the record or "not found");
 * rejects with a `TransportError` when nothing answers within `deadlineMs`.
 */
export async function untilAnswering(
  nc: NatsConnection,
  bucket: string,
  options: { readonly logger: Logger; readonly what: string; readonly deadlineMs?: number },
): Promise<void> {
  const stream = `KV_${bucket}`;
  const subject = `$JS.API.DIRECT.GET.${stream}.$KV.${bucket}.${PROBE_KEY}`;
  const deadline = Date.now() + (options.deadlineMs ?? ANSWER_DEADLINE_MS);
  const started = Date.now();
  let attemptMs = FIRST_ATTEMPT_MS;
  let warned = false;
  for (;;) {
    const left = deadline - Date.now();
    try {
      // Any reply is an answer, the record or a 404 status: the stream serves reads.
      await nc.request(subject, undefined, { timeout: Math.max(1, Math.min(attemptMs, left)) });
      return;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code !== ErrorCode.Timeout && code !== ErrorCode.NoResponders) throw error;
    }
    const waited = Date.now() - started;
    if (Date.now() >= deadline)
      throw new TransportError(
        `the ${options.what} bucket ${bucket} did not answer a read ($JS.API.DIRECT.GET.${stream}) within ${waited} ms: ` +
          "the server may be overloaded, or this user may not publish to $JS.API.DIRECT.GET.> (allow it in the account's permissions)",
      );
    if (waited >= QUIET_MS && !warned) {
      warned = true;
      options.logger.warn({ bucket, waitedMs: waited }, 'nats: a key-value bucket does not answer reads yet; asking again');
    } else {
      options.logger.debug({ bucket, waitedMs: waited }, 'nats: a key-value bucket did not answer a read; asking again');
    }
    attemptMs = Math.min(attemptMs * 2, MAX_ATTEMPT_MS);
  }
}
