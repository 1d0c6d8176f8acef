/**
 * One clock for every process of a run: `process.hrtime` reads CLOCK_MONOTONIC, which is the same
 * for all processes of one machine, so a time stamped by a publisher process can be subtracted
 * from a time read in a consumer process.
 *
 * @example
 * ```ts
 * const sentAt = nowUs();
 * // ... in another process
 * const latencyUs = nowUs() - sentAt;
 * ```
 * @module
 */

/** Microseconds on the machine-wide monotonic clock. */
export function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A unique, short run id for queue, stream and file names. */
export function runId(): string {
  return `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}
