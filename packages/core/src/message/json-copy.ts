/**
 * A deep copy of plain JSON data, equal to `JSON.parse(JSON.stringify(value))`, made without the
 * text: what an in-process transport hands a consumer instead of encoding and decoding (see
 * `Codec.copy`). It copies only what it can copy exactly and gives up (returns {@link NOT_PLAIN})
 * on anything else, so the caller takes the real round trip for it and nothing changes meaning:
 *
 * - values JSON changes: `toJSON` (a `Date`), class instances, `Map`/`Set`, `undefined` in an
 *   array, functions and symbols, non-finite numbers, `bigint` (which JSON refuses);
 * - keys the decoder refuses: `__proto__` and `constructor` (the bytes path dead-letters those);
 * - data nested deeper than 64 levels (a cycle among them), or larger than `maxBytes` could allow.
 *
 * Object properties holding `undefined` are left out, as JSON does.
 *
 * @example
 * ```ts
 * const copy = jsonCopy({ a: [1, 'x'] }, 1024); // { a: [1, 'x'] }, sharing nothing with the original
 * jsonCopy({ at: new Date() }, 1024) === NOT_PLAIN; // true: JSON would turn the date into a string
 * ```
 * @module
 */

/** What {@link jsonCopy} returns for a value it does not copy. */
export const NOT_PLAIN: unique symbol = Symbol('not plain JSON');

const MAX_DEPTH = 64;
/** Longest a number can be in JSON text (`-1.2345678901234567e-308`). */
const NUMBER_TEXT = 24;

/**
 * The copy, or {@link NOT_PLAIN}. `maxBytes` bounds the encoded size from above (every character
 * counted as the six bytes of its longest escape): a value that might be larger is not copied, so
 * the codec's exact size check runs on its bytes.
 */
export function jsonCopy(value: unknown, maxBytes: number): unknown {
  const budget = { left: maxBytes };
  const copy = copyValue(value, 0, budget);
  return budget.left < 0 ? NOT_PLAIN : copy;
}

function copyValue(value: unknown, depth: number, budget: { left: number }): unknown {
  switch (typeof value) {
    case 'string':
      budget.left -= value.length * 6 + 2;
      return value;
    case 'number':
      budget.left -= NUMBER_TEXT;
      return Number.isFinite(value) ? value + 0 : NOT_PLAIN; // + 0: -0 becomes 0, as in JSON
    case 'boolean':
      budget.left -= 5;
      return value;
    case 'object':
      break;
    default:
      return NOT_PLAIN;
  }
  if (value === null) {
    budget.left -= 4;
    return null;
  }
  if (depth >= MAX_DEPTH || budget.left < 0) return NOT_PLAIN;
  if (Array.isArray(value)) return copyArray(value, depth, budget);
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return NOT_PLAIN;
  const source = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  budget.left -= 2;
  for (const key in source) {
    if (!Object.hasOwn(source, key)) continue;
    if (key === '__proto__' || key === 'constructor') return NOT_PLAIN;
    const item = source[key];
    if (item === undefined) continue;
    const copied = copyValue(item, depth + 1, budget);
    if (copied === NOT_PLAIN) return NOT_PLAIN;
    budget.left -= key.length * 6 + 4;
    out[key] = copied;
  }
  return out;
}

function copyArray(source: readonly unknown[], depth: number, budget: { left: number }): unknown {
  if (Object.getPrototypeOf(source) !== Array.prototype) return NOT_PLAIN;
  const out = new Array<unknown>(source.length);
  budget.left -= 2;
  for (let i = 0; i < source.length; i++) {
    const item = source[i];
    if (item === undefined) return NOT_PLAIN; // JSON writes null (a hole too)
    const copied = copyValue(item, depth + 1, budget);
    if (copied === NOT_PLAIN) return NOT_PLAIN;
    budget.left -= 1;
    out[i] = copied;
  }
  return out;
}
