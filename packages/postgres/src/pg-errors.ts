/**
 * Which `pg` errors mean "the connection or the server is gone" (try again on a new connection)
 * rather than "the statement is wrong". Matched by code, never by message text:
 *
 * - SQLSTATE class `08` (connection exception), `57P01`–`57P03` (admin shutdown, crash shutdown,
 *   cannot connect now: a server restarting or `pg_terminate_backend`), `53300` (too many
 *   connections), `40001`/`40P01` (serialization failure, deadlock: the statement may simply be run again);
 * - a Node socket error code (`ECONNREFUSED`, `ECONNRESET`, `EPIPE`, `ETIMEDOUT`, ...);
 * - an error from `pg`'s connection layer, which carries no code at all ("Connection terminated").
 *
 * @example
 * ```ts
 * if (isConnectionError(error)) await reconnectAndRetry();
 * ```
 * @module
 */

const RETRYABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '40001', '40P01']);

/** Whether trying the operation again on a new connection may succeed. */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  // pg's own connection errors are plain Errors with no code; a TypeError or a server error is not one.
  if (code === undefined || code === null) return error.constructor === Error && !('severity' in error);
  if (typeof code !== 'string') return false;
  // Node's socket errors (ECONNREFUSED, ECONNRESET, EPIPE, ETIMEDOUT, ...); no SQLSTATE class starts with E.
  if (code.startsWith('E')) return true;
  return code.startsWith('08') || RETRYABLE_SQLSTATES.has(code);
}
