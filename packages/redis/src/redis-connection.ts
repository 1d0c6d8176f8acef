/**
 * What the Redis transport's parts (consumers, the dead-letter store, the publish batch) use of
 * the transport: its connection, keys, scripts and a few services. `RedisTransport` implements it;
 * the parts depend on this interface, not on the transport's module, so nothing imports back.
 *
 * @example
 * ```ts
 * const consumer = new RedisConsumer(connection, 'billing', 10); // connection: a RedisTransport
 * ```
 * @module
 */
import type { Redis } from 'ioredis';
import type { Clock, Logger } from '@missive/core';
import type { Consumer } from '@missive/core/transport';
import type { Keys } from './keys.js';
import type { ReadyFanout } from './ready-fanout.js';
import type { ResolvedRedisOptions } from './redis-options.js';
import type { Scripts } from './scripts.js';

/** @internal The bindings as of one routing version. */
export interface Routes {
  version: string;
  bindings: { queue: string; matches: (topic: string) => boolean }[];
  byTopic: Map<string, string[]>;
  streamsByTopic: Map<string, string[]>;
}

/** The transport as its parts see it. */
export interface RedisConnection {
  /** This connection's id: the owner of its temporary queues. */
  readonly connectionId: string;
  readonly options: ResolvedRedisOptions;
  readonly keys: Keys;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Whether the transport is connected and not closed. */
  readonly open: boolean;
  /** The main connection. Throws when not connected. */
  readonly redis: Redis;
  /**
   * The main connection's `ready` (it reconnected): parts subscribe here, never on {@link redis}
   * itself (one listener there however many parts; see `ready-fanout.ts`), and unsubscribe when
   * they close. Throws when not connected.
   */
  readonly readyEvents: ReadyFanout;
  /** The Lua scripts, loaded on the main connection. */
  readonly scripts: Scripts;
  /** Resolves with whether the queue is ordered when it exists; rejects with `UnroutableError` otherwise. */
  checkQueue(queue: string): Promise<boolean>;
  /** Declares a queue this connection declared before, after the server lost it. False if it never did. */
  redeclare(queue: string): Promise<boolean>;
  /**
   * Close-time work on the command connection (see `abandon.ts`): `work`'s outcome while the
   * connection stays ready, at most `ms` (default `timeoutMs`); a `TransportError` at once when it
   * is not ready (`work` not started), or when it closes meanwhile.
   */
  whileReady<T>(work: () => Promise<T>, what: string, ms?: number): Promise<T>;
  /** Stops tracking a closed consumer. */
  forget(consumer: Consumer): void;
  /** Wraps a Redis failure of `operation` (never with the URL's password). */
  failure(operation: string, error: unknown): Error;
  /** The current routes (loaded when stale). */
  currentRoutes(): Promise<Routes> | Routes;
  /** The routes changed under us: read them again next time. */
  staleRoutes(): void;
  /** The streams of the queues `topic` routes to (cached with the routes). */
  streamsOf(routes: Routes, topic: string): string[];
  /** A delay is due at `at`: promote no later than then. */
  dueAt(at: number): void;
}
