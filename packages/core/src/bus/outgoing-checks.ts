/**
 * Checks of what a caller hands the outgoing side: a contract's kind and name for an error
 * message (whatever was passed), and when a message given `at` or `delayMs` is due.
 *
 * @example
 * ```ts
 * const notBefore = dueTime(clock, options?.at, options?.delayMs);
 * if (contract?.kind !== 'event') throw new ConfigurationError(`${describe(contract)} is not an event`);
 * ```
 * @module
 */
import type { Clock } from '../clock.js';
import { ConfigurationError } from '../errors.js';

/** A contract's kind and name for an error message, whatever was passed. */
export function describe(contract: unknown): string {
  const c = contract as { kind?: unknown; name?: unknown } | undefined;
  return c !== null && typeof c === 'object' ? `${String(c.kind)} ${String(c.name)}` : String(contract);
}

/** When a message given `at` or `delayMs` is due (epoch ms), or undefined for now. */
export function dueTime(clock: Clock, at: Date | number | undefined, delayMs: number | undefined): number | undefined {
  if (at !== undefined) {
    const t = at instanceof Date ? at.getTime() : at;
    if (!Number.isFinite(t)) throw new ConfigurationError(`"at" is not a valid time: ${String(at)}`);
    return t;
  }
  if (delayMs !== undefined) {
    if (!(delayMs >= 0)) throw new ConfigurationError(`delayMs must be 0 or more, got ${String(delayMs)}`);
    return delayMs === 0 ? undefined : clock.now() + delayMs;
  }
  return undefined;
}
