/**
 * A promise settled from outside, once: the first `open` or `fail` wins, later calls do nothing.
 * An unawaited failure is not reported as an unhandled rejection; whoever awaits `promise` sees it.
 *
 * @example
 * ```ts
 * const started = new Latch();
 * void connect().then(() => started.open(), (error: Error) => started.fail(error));
 * await started.promise;
 * ```
 * @module
 */

/** A one-shot gate. */
export class Latch {
  readonly promise: Promise<void>;
  private done = false;
  private resolve!: () => void;
  private reject!: (error: Error) => void;

  constructor() {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.promise.catch(() => undefined);
  }

  /** Whether `open` or `fail` was called. */
  get settled(): boolean {
    return this.done;
  }

  open(): void {
    if (this.done) return;
    this.done = true;
    this.resolve();
  }

  fail(error: Error): void {
    if (this.done) return;
    this.done = true;
    this.reject(error);
  }
}
