/**
 * Waiting on conditions, the same way under a virtual or a real clock. Under a virtual clock,
 * `until` lets the event loop settle, then moves time to the next timer, and so on, until the
 * condition holds: no sleeping, no inactivity timeouts. Under the real clock it re-checks the
 * condition whenever `notify()` is called (handlers call it) and on a short interval, and fails
 * after an overall limit with the description of what it was waiting for.
 *
 * `settle` is what a "this did not happen" check waits for. Virtual: nothing is left that needs
 * no time. Real: a quiet period measured on the system, not a few event-loop turns: `busy()` (the
 * broker holds messages of the case, a handler runs) has said no, and neither `activity()` nor
 * `notify()` has moved, for `quietMs` in a row.
 *
 * @example
 * ```ts
 * const waiter = createWaiter({ clock, quiet: () => broker.isQuiet() });
 * await waiter.until(() => received.length === 10, 'ten messages');
 * ```
 * @module
 */
import { setImmediate as turn, setTimeout as pause } from 'node:timers/promises';
import type { VirtualClock } from './virtual-clock.js';

/** Options of {@link createWaiter}. */
export interface WaiterOptions {
  /** A virtual clock to drive, or undefined for real time. */
  readonly clock?: VirtualClock | undefined;
  /** Whether the system has no work ready to run (virtual mode). Default: always. */
  readonly quiet?: () => boolean;
  /** A counter that grows whenever the system makes progress; quiet needs it unchanged over several turns (virtual) or `quietMs` (real). */
  readonly activity?: () => number;
  /** Real mode: whether work is still under way (messages waiting or being handled); `settle` waits for no. Default: never busy. */
  readonly busy?: () => boolean | Promise<boolean>;
  /** Real mode: how long `settle` needs `busy()` false and no progress, ms. Default 100. */
  readonly quietMs?: number;
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
  /**
   * Lets work in progress finish: everything that needs no time passing (virtual mode), or until
   * the system has been quiet for `quietMs`: `busy()` false, no progress, no `notify()` (real).
   */
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
  const busy = options.busy ?? (() => false);
  const quietMs = options.quietMs ?? 100;
  const wakers = new Set<() => void>();
  /** Grows with every `notify()`: a handler that ran is progress. */
  let notified = 0;

  /**
   * Real mode: polls until `busy()` has been false and nothing has moved for `quietMs`, measured from
   * the first probe that found it quiet (from the last busy one, a stall between the two made one
   * quiet probe enough: work going on until just before it passed for a quiet period).
   */
  async function quietPeriod(): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let seen = activity() + notified;
    let quietSince: number | undefined;
    for (;;) {
      await pause(Math.min(20, quietMs));
      const isBusy = await busy();
      const now = activity() + notified;
      if (isBusy || now !== seen) {
        seen = now;
        quietSince = undefined;
      } else if (quietSince === undefined) {
        quietSince = Date.now();
      } else if (Date.now() - quietSince >= quietMs) {
        return;
      }
      if (Date.now() > deadline)
        throw new Error(`the system did not become quiet within ${timeoutMs} ms (${isBusy ? 'still busy' : 'still making progress'})`);
    }
  }

  async function settle(): Promise<void> {
    if (clock === undefined) return quietPeriod();
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
          throw new Error(
            `waited for ${what}, but nothing more can happen (${due === undefined ? 'no timers left' : 'next timer beyond the limit'})`,
          );
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
      notified++;
      for (const wake of [...wakers]) wake();
    },
    virtual: clock !== undefined,
  };
}
