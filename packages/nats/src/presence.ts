/**
 * Which queues have consumers, across processes: JetStream 2.9 cannot say it. A pull consumer's
 * info counts the pull requests waiting (`num_waiting`), but a request outlives the process that
 * made it until it expires, a busy consumer with no room has none out, and nothing says when the
 * last one stopped (`delivered.last_active` is the last delivery, not the last consumer). So each
 * running consumer records itself in a key-value bucket, `<PREFIX>_SEEN` (stream
 * `KV_<PREFIX>_SEEN`, records kept one day): key `<queue>.<instance>` (base64url, random id), value
 * `{ at, open }`, written when it starts, every {@link HEARTBEAT_MS}, and with `open: false` when it
 * stops. `queues()` counts the open records seen within {@link STALE_AFTER_MS} (a SIGKILLed process
 * stops counting after that), and, for a queue with none, reports the newest record's time as
 * `idleSince` (exact for a clean stop, within a heartbeat after a crash), or the queue's creation
 * when nothing ever consumed it.
 *
 * @example
 * ```ts
 * const leave = presence.join('billing');
 * const seen = await presence.read(); // Map { 'billing' => { consumers: 1, lastAt: … } }
 * await leave();
 * ```
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { KV } from 'nats';
import { KvBucket, type BucketHost } from './kv-bucket.js';

/** How often a running consumer writes its record again. */
export const HEARTBEAT_MS = 5_000;
/** An open record older than this is a consumer that died without saying so. */
export const STALE_AFTER_MS = 3 * HEARTBEAT_MS;
const KEEP_MS = 24 * 3600_000;

/** What a queue's records say. */
export interface Seen {
  /** Open records seen within {@link STALE_AFTER_MS}. */
  readonly consumers: number;
  /** Epoch ms of the newest record. */
  readonly lastAt: number;
}

/** What presence needs of the transport. */
export type PresenceHost = BucketHost;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
const unb64 = (text: string) => Buffer.from(text, 'base64url').toString('utf8');

/** The consumer records of one transport. */
export class Presence {
  private readonly live = new Map<string, string>();
  private readonly writes = new Set<Promise<void>>();
  private readonly bucket: KvBucket;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly host: PresenceHost,
    readonly bucketName: string,
  ) {
    this.bucket = new KvBucket(host, bucketName, { what: 'consumer records', ttlMs: KEEP_MS });
  }

  /** Records a running consumer of `queue`; resolves the returned function's promise once its stop is recorded. */
  join(queue: string): () => Promise<void> {
    const key = `${b64(queue)}.${randomBytes(6).toString('hex')}`;
    this.live.set(key, queue);
    void this.write(key, true);
    if (this.timer === undefined) {
      this.timer = setInterval(() => {
        for (const live of this.live.keys()) void this.write(live, true);
      }, HEARTBEAT_MS);
      this.timer.unref();
    }
    let left: Promise<void> | undefined;
    return () => {
      left ??= (() => {
        this.live.delete(key);
        if (this.live.size === 0) this.stopTimer();
        return this.write(key, false);
      })();
      return left;
    };
  }

  /** What the records say, by queue (only queues that have records). */
  async read(): Promise<Map<string, Seen>> {
    const seen = new Map<string, Seen>();
    if (!(await this.exists())) return seen;
    const kv = await this.kv();
    const now = Date.now();
    for await (const key of await kv.keys()) {
      const entry = await kv.get(key);
      if (entry === null || entry.operation !== 'PUT') continue;
      let record: { at?: number; open?: boolean };
      try {
        record = JSON.parse(decoder.decode(entry.value)) as typeof record;
      } catch {
        continue;
      }
      const queue = unb64(key.slice(0, key.indexOf('.')));
      const at = record.at ?? 0;
      const before = seen.get(queue) ?? { consumers: 0, lastAt: 0 };
      seen.set(queue, {
        consumers: before.consumers + (record.open === true && at > now - STALE_AFTER_MS ? 1 : 0),
        lastAt: Math.max(before.lastAt, at),
      });
    }
    return seen;
  }

  /** Forgets a deleted queue's records. */
  async forget(queue: string): Promise<void> {
    if (!(await this.exists())) return;
    const kv = await this.kv();
    const mine = `${b64(queue)}.`;
    for await (const key of await kv.keys()) if (key.startsWith(mine)) await kv.purge(key);
  }

  /** Waits for the records being written (before the connection closes). */
  async settle(): Promise<void> {
    this.stopTimer();
    await Promise.allSettled([...this.writes]);
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private write(key: string, open: boolean): Promise<void> {
    const done = this.kv()
      .then((kv) => kv.put(key, encoder.encode(JSON.stringify({ at: Date.now(), open }))))
      .then(
        () => undefined,
        (error: unknown) => this.host.logger.debug({ err: error }, 'nats: a consumer record was not written (queues() may count it late)'),
      );
    this.writes.add(done);
    void done.finally(() => this.writes.delete(done));
    return done;
  }

  private exists(): Promise<boolean> {
    return this.bucket.exists();
  }

  private kv(): Promise<KV> {
    return this.bucket.open();
  }
}
