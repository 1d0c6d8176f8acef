/**
 * A stored message as a {@link TransportMessage}: for transports that keep messages in table rows
 * (SQLite, PostgreSQL) or other records with the same fields.
 *
 * What it promises: `body` is a plain `Uint8Array` view over the row's bytes (no copy, and not a
 * Node `Buffer`, so it compares and serialises like any other body); `headers` stored as JSON text
 * are parsed (an object is taken as is); a `null` partition key becomes `undefined`.
 *
 * @example
 * ```ts
 * const row = db.prepare('SELECT id, type, body, headers, partition_key FROM messages WHERE seq = ?').get(seq);
 * const message = rowToMessage(row);
 * ```
 * @module
 */
import type { TransportMessage } from '../transport.js';

/** The columns of a stored message, by the names the SQL transports use. */
export interface MessageRow {
  readonly id: string;
  readonly type: string;
  readonly body: Uint8Array;
  /** JSON text of a string-to-string object, or the object itself (a `jsonb` column). */
  readonly headers: string | Readonly<Record<string, string>>;
  readonly partition_key?: string | null | undefined;
}

/** The bytes of `bytes` as a plain `Uint8Array` over the same memory (a `Buffer` becomes a view, not a copy). */
export function bytesView(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The transport message stored in `row`. */
export function rowToMessage(row: MessageRow): TransportMessage {
  return {
    id: row.id,
    type: row.type,
    body: bytesView(row.body),
    headers: typeof row.headers === 'string' ? (JSON.parse(row.headers) as Record<string, string>) : { ...row.headers },
    partitionKey: row.partition_key ?? undefined,
  };
}
