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
 * const again = plainCopy(copy); // a copy of a copy, without the checks
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
  const budget: Budget = { left: maxBytes };
  const copy = copyValue(value, 0, budget);
  return budget.left < 0 ? NOT_PLAIN : copy;
}

/** Bytes the encoded text may still take. */
interface Budget {
  left: number;
}

function copyValue(value: unknown, depth: number, budget: Budget): unknown {
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
      if (value === null) {
        budget.left -= 4;
        return null;
      }
      return Array.isArray(value) ? copyArray(value, depth, budget) : copyObject(value, depth, budget);
    default:
      return NOT_PLAIN;
  }
}

/**
 * A spread copies the object in one step (far cheaper than adding its keys one by one); then each
 * value is checked, nested objects replaced by their copies and `undefined` ones removed.
 */
function copyObject(source: object, depth: number, budget: Budget): unknown {
  if (depth >= MAX_DEPTH || budget.left < 0) return NOT_PLAIN;
  const proto = Object.getPrototypeOf(source) as unknown;
  if (proto !== Object.prototype && proto !== null) return NOT_PLAIN;
  if (Object.getOwnPropertySymbols(source).length !== 0) return NOT_PLAIN; // a spread would copy them, JSON does not
  const out: Record<string, unknown> = { ...source };
  let left = budget.left - 2;
  for (const key in out) {
    if (key === '__proto__' || key === 'constructor') return NOT_PLAIN;
    const item = out[key];
    left -= key.length * 6 + 4;
    switch (typeof item) {
      case 'string':
        left -= item.length * 6 + 2;
        break;
      case 'number':
        if (!Number.isFinite(item)) return NOT_PLAIN;
        if (item === 0) out[key] = 0; // -0 becomes 0, as in JSON
        left -= NUMBER_TEXT;
        break;
      case 'boolean':
        left -= 5;
        break;
      case 'undefined':
        delete out[key]; // JSON leaves it out
        break;
      case 'object': {
        budget.left = left;
        const copied =
          item === null ? null : Array.isArray(item) ? copyArray(item, depth + 1, budget) : copyObject(item, depth + 1, budget);
        if (copied === NOT_PLAIN) return NOT_PLAIN;
        out[key] = copied;
        left = item === null ? left - 4 : budget.left;
        break;
      }
      default:
        return NOT_PLAIN;
    }
  }
  budget.left = left;
  return out;
}

function copyArray(source: readonly unknown[], depth: number, budget: Budget): unknown {
  if (depth >= MAX_DEPTH || budget.left < 0) return NOT_PLAIN;
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

/**
 * A deep copy of what {@link jsonCopy} returned (plain objects, arrays, strings, finite numbers,
 * booleans and null, nothing else), made without checking: an in-process message takes one per
 * delivery of the copy it holds. A spread copies an object's keys in one step; only nested objects
 * and arrays are copied again. Anything but a `jsonCopy` result that nobody changed since may be
 * copied wrongly.
 */
export function plainCopy<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const out: unknown[] = value.slice();
    for (let i = 0; i < out.length; i++) {
      const item = out[i];
      if (typeof item === 'object' && item !== null) out[i] = plainCopy(item);
    }
    return out as T;
  }
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const key in out) {
    const item = out[key];
    if (typeof item === 'object' && item !== null) out[key] = plainCopy(item);
  }
  return out as T;
}
