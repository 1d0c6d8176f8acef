/**
 * How the Redis transport notices a dead link, and how it reconnects. A half-open connection (the
 * host gone, a route dropped: nothing answers and nothing closes) looks to a client like a slow
 * server, so liveness is judged by replies:
 *
 * - every connection has ioredis's `socketTimeout` set to `timeoutMs`: when a command has waited
 *   that long with no byte received, the socket is destroyed, what was in flight is sent again
 *   after the reconnect (ioredis's default), and the reconnect backoff starts;
 * - the command connection is pinged every quarter of `timeoutMs` (a {@link LinkWatch}), so an
 *   idle link is tested too: a dead link is noticed within 1.25 × `timeoutMs`;
 * - a consumer's blocking read (`XREADGROUP … BLOCK`) waits at most half of `timeoutMs`
 *   ({@link blockLimitMs}), so its reply (empty) always comes well before the socket timeout;
 * - reconnects wait with capped exponential backoff and jitter (`reconnect-backoff.ts`); a new
 *   connection that is accepted but never answers fails its handshake after `timeoutMs` too.
 *
 * TCP keepalive would not do: on a link frozen in between (a proxy, a NAT, a paused VM) the peer's
 * kernel still answers the probes.
 *
 * @example
 * ```ts
 * const redis = new Redis(options.url, clientOptions(options));
 * const watch = new LinkWatch(redis, options.timeoutMs, logger, 'redis://127.0.0.1:6379');
 * watch.start();
 * ```
 * @module
 */
import type { Redis, RedisOptions } from 'ioredis';
import type { Logger } from '@missive/core';
import { reconnectDelay } from './reconnect-backoff.js';
import type { ResolvedRedisOptions } from './redis-options.js';

/** The ioredis options of the transport's connections (the user's `redisOptions` win). */
export function clientOptions(options: ResolvedRedisOptions): RedisOptions {
  return {
    lazyConnect: true,
    connectionName: 'missive',
    socketTimeout: options.timeoutMs,
    connectTimeout: options.timeoutMs,
    retryStrategy: (attempt: number) => reconnectDelay(attempt),
    ...options.redisOptions,
  };
}

/** The longest a blocking read may wait on the server, ms: half the liveness timeout. */
export function blockLimitMs(options: ResolvedRedisOptions): number {
  return Math.max(10, Math.floor(options.timeoutMs / 2));
}

/** Whether `error` is ioredis's report of a link that answered nothing for `socketTimeout`. */
export function isLinkTimeout(error: Error): boolean {
  return error.message.startsWith('Socket timeout');
}

/** Pings a connection every quarter of `timeoutMs`, so a dead idle link trips its socket timeout. */
export class LinkWatch {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
    private readonly where: string,
  ) {}

  /** Starts the pings, and a warning each time the link is taken for dead. */
  start(): void {
    this.redis.on('error', this.report);
    this.timer = setInterval(() => this.ping(), Math.max(50, Math.floor(this.timeoutMs / 4)));
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.redis.off('error', this.report);
  }

  private ping(): void {
    // Only on a live link: while reconnecting, ioredis's own handshake is what is timed out, and
    // queued pings would only pile up.
    if (this.redis.status === 'ready') this.redis.ping().catch(() => undefined);
  }

  private readonly report = (error: Error): void => {
    if (isLinkTimeout(error))
      this.logger.warn(`redis connection to ${this.where} answered nothing for ${this.timeoutMs} ms; taken for dead, reconnecting`);
  };
}
