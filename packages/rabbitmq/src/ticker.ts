/**
 * Runs a task one at a time: now when kicked (or right after the run under way, if kicked during
 * it), and otherwise every period plus a random extra, so several instances do not run together.
 * An ordered consumer's rebalancing runs on one.
 *
 * @example
 * ```ts
 * const ticker = new Ticker(() => rebalance(), 1000, 500, (error) => logger.debug({ err: error }, 'rebalance failed'));
 * ticker.kick(); // now; then about every 1–1.5 s
 * ticker.stop();
 * ```
 * @module
 */

/** A serial, periodic task. */
export class Ticker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly task: () => Promise<void>,
    private readonly periodMs: number,
    private readonly jitterMs: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Runs the task now, or once more right after the run under way. */
  kick(): void {
    if (this.stopped) return;
    if (this.running !== undefined) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = this.task()
      .catch(this.onError)
      .finally(() => {
        this.running = undefined;
        if (this.stopped) return;
        if (this.again) {
          this.again = false;
          this.kick();
          return;
        }
        this.timer = setTimeout(() => this.kick(), this.periodMs + Math.random() * this.jitterMs);
        this.timer.unref();
      });
  }

  /** No timer until the next `kick` (the connection is gone). */
  pause(): void {
    clearTimeout(this.timer);
  }

  /** No more runs. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
