/**
 * Waiting on conditions, the same way under a virtual or a real clock. Under a virtual clock,
 * `until` lets the event loop settle, then moves time to the next timer, and so on, until the
 * condition holds: no sleeping, no inactivity timeouts. Under the real clock it re-checks the
 * condition whenever `notify()` is called (handlers call it) and on a short interval, and fails
 * after an overall limit with the description of what it was waiting for.
 *
 * @example
 * ```ts
 * const waiter = createWaiter({ clock, quiet: () => broker.isQuiet() });
 * await waiter.until(() => received.length === 10, 'ten messages');
 * ```
 * @module
 */
import { setImmediate as turn } from 'node:timers/promises';
import type { VirtualClock } from './virtual-clock.js';

/** Options of {@link createWaiter}. */
export interface WaiterOptions {
  /** A virtual clock to drive, or undefined for real time. */
  readonly clock?: VirtualClock | undefined;
  /** Whether the system has no work ready to run (virtual mode). Default: always. */
  readonly quiet?: () => boolean;
  /** A counter that grows whenever the system makes progress; quiet needs it unchanged over several turns. */
  readonly activity?: () => number;
  /** Real-time limit of one wait, ms. Default 20 s. */
  readonly timeoutMs?: number;
  /** Virtual-time limit of one wait, ms. Default 1 day. */
  readonly virtualLimitMs?: number;
}

/** Waits on conditions. */
export interface Waiter {
  /** Resolves when `condition()` is true; rejects naming `what` if it does not happen in time. */
  until(condition: () => boolean, what: string): Promise<void>;
  /** Like `until`, for a condition that must be read asynchronously (a store): resolves with the accepted value. */
  eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, what: string): Promise<T>;
  /** Lets all work that needs no time passing finish (virtual mode), or a few event-loop turns (real). */
  settle(): Promise<void>;
  /** Moves virtual time forward by `ms`, settling after each timer. Real mode: resolves at once. */
  advance(ms: number): Promise<void>;
  /** Wakes waiters to re-check their conditions. */
  notify(): void;
  readonly virtual: boolean;
}

/** Creates a waiter. */
export function createWaiter(options: WaiterOptions = {}): Waiter {
  const clock = options.clock;
  const quiet = options.quiet ?? (() => true);
  const activity = options.activity ?? (() => 0);
  const timeoutMs = options.timeoutMs ?? 20_000;
  const virtualLimitMs = options.virtualLimitMs ?? 24 * 60 * 60 * 1000;
  const wakers = new Set<() => void>();

  async function settle(): Promise<void> {
    if (clock === undefined) {
      for (let i = 0; i < 3; i++) await turn();
      return;
    }
    let stable = 0;
    let seen = activity();
    for (let i = 0; i < 100_000; i++) {
      await turn();
      const now = activity();
      stable = quiet() && now === seen ? stable + 1 : 0;
      seen = now;
      if (stable >= 5) return;
    }
    throw new Error('the system did not become quiet after 100000 event-loop turns');
  }

  async function advance(ms: number): Promise<void> {
    if (clock === undefined) return;
    const target = clock.now() + ms;
    await settle();
    while (clock.fireNext(target)) await settle();
    clock.advance(target - clock.now());
    await settle();
  }

  async function until(condition: () => boolean, what: string): Promise<void> {
    if (clock !== undefined) {
      const limit = clock.now() + virtualLimitMs;
      for (;;) {
        await settle();
        if (condition()) return;
        const due = clock.nextDue();
        if (due === undefined || due > limit) {
          throw new Error(`waited for ${what}, but nothing more can happen (${due === undefined ? 'no timers left' : 'next timer beyond the limit'})`);
        }
        clock.fireNext(due);
      }
    }
    if (condition()) return;
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!condition()) return;
        done();
        resolve();
      };
      const interval = setInterval(check, 5);
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const done = () => {
        clearInterval(interval);
        clearTimeout(timer);
        wakers.delete(check);
      };
      wakers.add(check);
    });
  }

  async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, what: string): Promise<T> {
    if (clock !== undefined) {
      const limit = clock.now() + virtualLimitMs;
      for (;;) {
        await settle();
        const value = await probe();
        if (accept(value)) return value;
        const due = clock.nextDue();
        if (due === undefined || due > limit) throw new Error(`waited for ${what}, but nothing more can happen`);
        clock.fireNext(due);
      }
    }
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (accept(value)) return value;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  return {
    until,
    eventually,
    settle,
    advance,
    notify: () => {
      for (const wake of [...wakers]) wake();
    },
    virtual: clock !== undefined,
  };
}
