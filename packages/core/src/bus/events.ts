/**
 * A small typed event emitter for the bus's observable happenings (circuit state changes,
 * dead letters, retries, expiries). A listener that throws is reported to the logger, never to
 * the message pipeline.
 *
 * @example
 * ```ts
 * bus.on('circuit', ({ endpoint, state }) => console.log(endpoint, state));
 * ```
 * @module
 */
import type { Logger } from '../logger.js';

/** Listener of one event. */
export type Listener<T> = (event: T) => void;

/** Typed emitter over an event map `{ name: payload }`. */
export class TypedEmitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>();

  constructor(private readonly logger: Logger) {}

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(name: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(name);
    if (set === undefined) this.listeners.set(name, (set = new Set()));
    set.add(listener);
    return () => this.off(name, listener);
  }

  /** Removes a listener. */
  off<K extends keyof Events>(name: K, listener: Listener<Events[K]>): void {
    this.listeners.get(name)?.delete(listener);
  }

  /** Whether anyone listens to `name` (lets hot paths skip building the event). */
  has<K extends keyof Events>(name: K): boolean {
    return (this.listeners.get(name)?.size ?? 0) > 0;
  }

  /** Calls each listener of `name` with `event`. */
  emit<K extends keyof Events>(name: K, event: Events[K]): void {
    const set = this.listeners.get(name);
    if (set === undefined) return;
    for (const listener of set) {
      try {
        (listener as Listener<Events[K]>)(event);
      } catch (error) {
        this.logger.error({ err: error }, `listener of "${String(name)}" threw`);
      }
    }
  }
}
