/**
 * Redaction of payload fields before a payload is journaled: every property whose name is listed,
 * at any depth, is replaced by `"[redacted]"`. The original is never changed.
 *
 * @example
 * ```ts
 * redact({ card: { number: '4111' }, amount: 3 }, ['number']); // { card: { number: '[redacted]' }, amount: 3 }
 * ```
 * @module
 */

/** The text that replaces a redacted value. */
export const REDACTED = '[redacted]';

/** A copy of `value` with the named fields replaced. */
export function redact(value: unknown, fields: readonly string[]): unknown {
  if (fields.length === 0 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => redact(item, fields));
  const copy: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) copy[key] = fields.includes(key) ? REDACTED : redact(inner, fields);
  return copy;
}
