/**
 * One `ready` listener on a Redis connection, whatever the number of parts that want to hear when
 * it is ready again. Each consumer of a transport (and each consumer's acks waiting for a lost link,
 * `ack-retry.ts`) used to add its own listener to the transport's command connection: past ten,
 * Node printed `MaxListenersExceededWarning`, a listener-leak warning an operator would chase. The
 * parts subscribe here instead; the fanout holds them in a set and has a single listener on the
 * connection. A part that closes unsubscribes (`off`); `stop` (the transport closing) drops them
 * all and takes the one listener off.
 *
 * The methods are the emitter subset the parts use (`on`, `once`, `off` of `'ready'`, and
 * `status`), so a part written against an ioredis client (`ReadyLink` in `ack-retry.ts`) takes a
 * fanout as it is.
 *
 * @example
 * ```ts
 * const fanout = new ReadyFanout(redis);
 * fanout.on('ready', onReady);  // at every reconnect
 * fanout.off('ready', onReady); // when the part closes
 * ```
 * @module
 */

/** The part of an ioredis client a {@link ReadyFanout} listens to. */
export interface ReadySource {
  readonly status: string;
  on(event: 'ready', listener: () => void): unknown;
  off(event: 'ready', listener: () => void): unknown;
}

/** The `ready` event of one connection, handed to any number of subscribers through one listener. */
export class ReadyFanout {
  /** Each subscriber, with whether it is called once only. */
  private readonly subscribers = new Map<() => void, boolean>();
  private stopped = false;

  constructor(private readonly source: ReadySource) {
    source.on('ready', this.fire);
  }

  /** The connection's status (`'ready'` when it can send now). */
  get status(): string {
    return this.source.status;
  }

  /** Subscribers not yet removed. */
  get size(): number {
    return this.subscribers.size;
  }

  /** Calls `listener` each time the connection is ready again, until {@link off}. Once per listener, however often added. */
  on(_event: 'ready', listener: () => void): this {
    if (!this.stopped) this.subscribers.set(listener, false);
    return this;
  }

  /** Calls `listener` the next time the connection is ready, then forgets it. */
  once(_event: 'ready', listener: () => void): this {
    if (!this.stopped) this.subscribers.set(listener, true);
    return this;
  }

  /** Forgets `listener` (nothing if it was not subscribed). */
  off(_event: 'ready', listener: () => void): this {
    this.subscribers.delete(listener);
    return this;
  }

  /** Forgets every subscriber and takes the listener off the connection; later subscriptions are ignored. */
  stop(): void {
    this.stopped = true;
    this.subscribers.clear();
    this.source.off('ready', this.fire);
  }

  private readonly fire = (): void => {
    // A copy: a subscriber may subscribe or unsubscribe while called; one added now waits for the
    // next time, one removed now is not called.
    for (const [listener, once] of [...this.subscribers]) {
      if (!this.subscribers.has(listener)) continue;
      if (once) this.subscribers.delete(listener);
      listener();
    }
  };
}
