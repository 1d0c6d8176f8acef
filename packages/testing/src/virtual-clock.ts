/**
 * A clock whose time moves only when told. Timers fire in due order as time advances, each at its
 * own due time; timers set by a firing timer within the advanced span fire too.
 *
 * @example
 * ```ts
 * const clock = new VirtualClock();
 * clock.setTimeout(() => console.log('fired'), 1000);
 * clock.advance(1000); // prints "fired"
 * ```
 * @module
 */
import type { Clock, TimerHandle } from '@missive/core';

interface Timer {
  readonly id: number;
  readonly due: number;
  readonly fn: () => void;
}

/** The virtual clock. */
export class VirtualClock implements Clock {
  private current: number;
  private nextId = 1;
  private timers: Timer[] = [];

  constructor(start: number = Date.UTC(2026, 0, 1)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: Timer = { id: this.nextId++, due: this.current + Math.max(0, ms), fn };
    let i = this.timers.length;
    while (i > 0 && this.timers[i - 1]!.due > timer.due) i--;
    this.timers.splice(i, 0, timer);
    return timer.id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers = this.timers.filter((t) => t.id !== (handle as unknown as number));
  }

  /** Due time of the earliest timer, if any. */
  nextDue(): number | undefined {
    return this.timers[0]?.due;
  }

  /** Timers waiting. */
  get pending(): number {
    return this.timers.length;
  }

  /** Fires the earliest timer if it is due by `limit`; returns whether one fired. */
  fireNext(limit: number): boolean {
    const timer = this.timers[0];
    if (timer === undefined || timer.due > limit) return false;
    this.timers.shift();
    this.current = Math.max(this.current, timer.due);
    timer.fn();
    return true;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const target = this.current + ms;
    while (this.fireNext(target));
    this.current = target;
  }
}
