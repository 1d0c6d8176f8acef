/**
 * Projections: catch-up subscriptions over the store's global order. A projection reads the events
 * after its checkpoint, hands each to `handle`, and saves the checkpoint after each one, so after a
 * crash it resumes where it stopped and an event is handled at least once (never skipped). Once
 * started, a failing `handle` is retried with backoff and reported to `onError`; the loop never
 * dies on one event and never skips it. A projection is a `BusComponent`: `bus.attach(projection)` runs it
 * with the bus; {@link publishEvents} makes one that publishes events to the bus.
 *
 * @example
 * ```ts
 * const history = createProjection({ name: 'history', store, handle: (e) => rows.push(e) });
 * bus.attach(history);
 * await history.catchUp(); // tests: handle everything appended so far, then return
 * ```
 * @module
 */
import { ConfigurationError, type BusComponent, type EventContract, type PayloadInput, type PublishOptions } from '@missive/core';
import type { EventStore, RecordedEvent } from './event-store.js';

/** Options of {@link createProjection}. */
export interface ProjectionOptions {
  /** Names the checkpoint: two projections with one name share it. */
  readonly name: string;
  readonly store: EventStore;
  /** Handles one event. Throw to have it retried (after `retryMs`, doubling up to 30 s). */
  handle(event: RecordedEvent): void | Promise<void>;
  /** Only events of streams starting with this prefix are handled (the checkpoint still moves). */
  readonly streamPrefix?: string;
  /** How often to look for new events, ms. Default 200. */
  readonly pollMs?: number;
  /** Events read at a time. Default 200. */
  readonly batch?: number;
  /** First retry delay of a failing event, ms. Default 100. */
  readonly retryMs?: number;
  /** Called when `handle` throws (the event is then retried), or reading the store fails (`event` undefined; tried again after `pollMs`). */
  onError?(error: unknown, event: RecordedEvent | undefined): void;
}

/** A running (or startable) projection. */
export interface Projection extends BusComponent {
  readonly name: string;
  /** The last position handled. */
  readonly position: number;
  /**
   * Handles every event appended so far (from the checkpoint), then resolves with the position
   * reached. When the projection is not started, a failing `handle` rejects it (the checkpoint
   * stays before that event); when started, it waits for the retries.
   */
  catchUp(): Promise<number>;
  /** Starts polling (what `bus.attach` calls). */
  start(): Promise<void>;
  /** Stops polling after the event in hand. */
  stop(): Promise<void>;
}

/** Creates a projection; nothing runs until `start` or `catchUp`. */
export function createProjection(options: ProjectionOptions): Projection {
  const pollMs = options.pollMs ?? 200;
  const batch = options.batch ?? 200;
  const retryMs = options.retryMs ?? 100;
  if (options.name === '') throw new ConfigurationError('a projection needs a name');
  if (!(pollMs > 0) || !(batch > 0) || !(retryMs > 0)) throw new ConfigurationError('pollMs, batch and retryMs must be positive');
  let position: number | undefined;
  let running = false;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  let busy: Promise<number> | undefined;

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      wake = resolve;
      timer = setTimeout(resolve, ms);
    });

  /** Handles one event. Started (`start`), a failure is retried with backoff until it succeeds or the projection stops; otherwise it rejects the `catchUp`. */
  const handleOne = async (event: RecordedEvent) => {
    for (let delay = retryMs; ; delay = Math.min(delay * 2, 30_000)) {
      try {
        await options.handle(event);
        return;
      } catch (error) {
        options.onError?.(error, event);
        if (!running) throw error;
        await pause(delay);
        if (!running) throw new Error(`projection ${options.name} stopped while retrying event ${event.id}`);
      }
    }
  };

  const drain = async (): Promise<number> => {
    position ??= await options.store.loadCheckpoint(options.name);
    for (;;) {
      const events = await options.store.readAll({ after: position, limit: batch });
      for (const event of events) {
        if (options.streamPrefix === undefined || event.stream.startsWith(options.streamPrefix)) await handleOne(event);
        position = event.position;
        await options.store.saveCheckpoint(options.name, position);
      }
      if (events.length < batch) return position;
    }
  };
  /** One drain at a time, whoever asks. */
  const catchUp = () => {
    busy ??= drain().finally(() => (busy = undefined));
    return busy;
  };

  return {
    name: options.name,
    get position() {
      return position ?? 0;
    },
    catchUp,
    async start() {
      if (running) return;
      running = true;
      loop = (async () => {
        while (running) {
          try {
            await catchUp();
          } catch (error) {
            // A handler's failure was reported already; a failing read is reported here and tried again.
            if (running) options.onError?.(error, undefined);
          }
          if (running) await pause(pollMs);
        }
      })();
    },
    async stop() {
      running = false;
      clearTimeout(timer);
      wake?.();
      await loop;
      loop = undefined;
    },
  };
}

/** The bus's `publish`, as a projection needs it. */
export interface Publisher {
  publish<C extends EventContract>(contract: C, payload: PayloadInput<C>, options?: PublishOptions): Promise<void>;
}

/** Maps a recorded event to a message, or `undefined` to publish nothing for it. */
export type EventToMessage = (event: RecordedEvent) => { readonly contract: EventContract; readonly payload: unknown } | undefined;

/**
 * A projection that publishes events to the bus. The message id is the event's id, so a publish
 * repeated after a crash (at-least-once) is recognised by consumers with an inbox.
 *
 * @example
 * ```ts
 * bus.attach(publishEvents(bus, { name: 'to-bus', store, map: (e) => e.type === 'delivered' ? { contract: Delivered, payload: e.data } : undefined }));
 * ```
 */
export function publishEvents(bus: Publisher, options: Omit<ProjectionOptions, 'handle'> & { readonly map: EventToMessage }): Projection {
  return createProjection({
    ...options,
    handle: async (event) => {
      const message = options.map(event);
      if (message === undefined) return;
      await bus.publish(message.contract, message.payload, { messageId: event.id, partitionKey: event.stream });
    },
  });
}
