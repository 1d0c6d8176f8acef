/**
 * The CLI's exit codes and the error that carries one. A `UsageError` (bad arguments, bad URL, bad
 * JSON, unknown queue) exits with 2; any other failure with 1.
 *
 * @example
 * ```ts
 * throw new UsageError('no queue named "billing"; `missive queues` lists them');
 * ```
 * @module
 */

/** Exit codes. */
export const ExitCode = { Ok: 0, Failure: 1, Usage: 2 } as const;

/** A mistake in how the command was called. */
export class UsageError extends Error {
  override name = 'UsageError';
}
