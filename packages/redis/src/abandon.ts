/**
 * What a closing part does with the Redis commands it still waits on. ioredis never settles a
 * command that waits on a connection between reconnect attempts once `disconnect()` is called
 * (the retry timer is cleared, nothing else happens), nor one that was in flight when the link
 * dropped until the link is ready again: a close that awaited them could wait forever. So a part
 * awaits its commands through an {@link Abandon}: once it fires, every such wait rejects with a
 * `TransportError`, and the command (still queued inside ioredis) is left behind. And the commands
 * a close sends itself are waited on only while their connection stays ready, at most a bound
 * ({@link whileReady}).
 *
 * @example
 * ```ts
 * const abandon = new Abandon('redis consumer of billing');
 * const reply = await abandon.race(blocker.xreadgroup(...)); // rejects once abandon.fire() is called
 * ```
 * @module
 */
import { TransportError } from '@missive/core';

/** A close signal for the commands a part waits on. */
export class Abandon {
  private reject: (error: Error) => void = () => undefined;
  private readonly fired: Promise<never>;

  /** `what`: the part, as error messages name it. */
  constructor(private readonly what: string) {
    this.fired = new Promise<never>((_, reject) => (this.reject = reject));
    this.fired.catch(() => undefined); // nobody racing is no unhandled rejection
  }

  /** `work`'s outcome, or a `TransportError` once {@link fire} was called (before or after). */
  race<T>(work: Promise<T>): Promise<T> {
    return Promise.race([work, this.fired]);
  }

  /** Rejects every wait, present and future. */
  fire(): void {
    this.reject(new TransportError(`${this.what} closed: a Redis command it waited on was abandoned (its connection was lost)`));
  }
}

/** The part of an ioredis client {@link whileReady} watches. */
export interface Link {
  readonly status: string;
  once(event: 'close', listener: () => void): unknown;
  off(event: 'close', listener: () => void): unknown;
}

/**
 * `work`'s outcome while `link` stays ready, at most `ms`: rejects with a `TransportError` at once
 * when the link is not ready (a command would wait for a reconnect), when it closes meanwhile, or
 * after `ms`. For the commands a close sends: they are worth waiting for only on a live link.
 */
export function whileReady<T>(link: Link, work: () => Promise<T>, ms: number, what: string): Promise<T> {
  if (!isReady(link)) return Promise.reject(new TransportError(`${what}: the Redis connection is not ready`));
  let timer: NodeJS.Timeout | undefined;
  let lost = (): void => undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TransportError(`${what}: no reply from Redis within ${ms} ms`)), ms);
    lost = () => reject(new TransportError(`${what}: the Redis connection was lost`));
    link.once('close', lost);
  });
  return Promise.race([work(), late]).finally(() => {
    clearTimeout(timer);
    link.off('close', lost);
  });
}

/** Whether an ioredis client can send now (else a command would queue until it reconnects). */
export function isReady(redis: { readonly status: string }): boolean {
  return redis.status === 'ready';
}
