/**
 * Message headers as a transport stores them: JSON text of a string-to-string object (SQLite and
 * PostgreSQL rows, Redis stream entries), its bytes, or the object itself (a `jsonb` column).
 *
 * What it promises: it never throws. Stored messages can be written by anything that can reach the
 * database or the stream, so headers that are not JSON, not an object, or hold a value that is not
 * a string read as empty headers, and `unreadable` says why, naming what they were read from
 * (`row`, `entry`): the transport sets `Delivery.unreadable` with it, and the bus dead-letters the
 * message with `DECODE` and that reason.
 *
 * @example
 * ```ts
 * const { headers, unreadable } = readStoredHeaders(row.headers, 'row');
 * ```
 * @module
 */

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** The headers stored in `value` (JSON text, its bytes, or an object), or empty headers and why not; `what` names the record in the reason. */
export function readStoredHeaders(value: unknown, what: string): { headers: Readonly<Record<string, string>>; unreadable?: string } {
  const text = value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8') : value;
  if (text === '{}') return { headers: NO_HEADERS };
  let parsed = text;
  if (typeof text === 'string') {
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      return { headers: NO_HEADERS, unreadable: `the ${what}'s headers are not JSON (${(error as Error).message})` };
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    const shown = typeof text === 'string' ? JSON.stringify(text.slice(0, 40)) : text === null ? 'null' : typeof text;
    return { headers: NO_HEADERS, unreadable: `the ${what}'s headers are not a JSON object (${shown})` };
  }
  const headers: Record<string, string> = {};
  for (const key of Object.keys(parsed)) {
    const v = (parsed as Record<string, unknown>)[key];
    if (typeof v !== 'string') return { headers: NO_HEADERS, unreadable: `the ${what}'s header ${JSON.stringify(key)} is not a string` };
    headers[key] = v;
  }
  return { headers };
}
