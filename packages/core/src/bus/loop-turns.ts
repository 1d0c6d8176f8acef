/**
 * Keeps a hot path from starving the event loop. A transport whose publish completes without
 * waiting on I/O (memory; SQLite, whose writes are synchronous) resolves each `await` as a
 * microtask, so a loop of awaited publishes would never let timers run: lease extensions,
 * heartbeats and retry timers of the same process would stall. The bus asks {@link LoopTurns.due}
 * after each send; when the event loop has not turned for `everyMs`, it waits one turn.
 *
 * @example
 * ```ts
 * const turns = new LoopTurns(10);
 * const wait = turns.due();
 * if (wait !== undefined) await wait;
 * ```
 * @module
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

/** Tracks when the event loop last turned, as seen by the caller. */
export class LoopTurns {
  /** When a turn was last observed (performance.now()). */
  private turnedAt = 0;
  private marking = false;
  /** The wait for a turn that callers share, while one is under way. */
  private waiting: Promise<void> | undefined;
  private readonly mark = (): void => {
    this.marking = false;
    this.turnedAt = performance.now();
  };

  /** `everyMs`: the longest the caller may keep the loop from turning. */
  constructor(private readonly everyMs: number = 10) {}

  /** Undefined while the loop turned within `everyMs`; otherwise a promise that resolves after one turn. */
  due(): Promise<void> | undefined {
    const now = performance.now();
    if (!this.marking) {
      // No marker pending: the last one ran, and nothing was sent since. Start counting from now.
      this.marking = true;
      this.turnedAt = now;
      setImmediate(this.mark);
      return undefined;
    }
    if (now - this.turnedAt < this.everyMs) return undefined;
    // Timers run in the next loop iteration: wait for the marker's turn and one more. Every caller
    // until then waits for the same turns (a batch of sends would otherwise make two timers each).
    return (this.waiting ??= nextTurn()
      .then(() => nextTurn())
      .then(() => {
        this.waiting = undefined;
      }));
  }
}
