/**
 * A stored message as a {@link TransportMessage}: for transports that keep messages in table rows
 * (SQLite, PostgreSQL) or other records with the same fields.
 *
 * What it promises: `body` is a plain `Uint8Array` view over the row's bytes (no copy, and not a
 * Node `Buffer`, so it compares and serialises like any other body); `headers` stored as JSON text
 * are parsed (an object is taken as is); a `null` partition key becomes `undefined`. It never
 * throws: rows can be written by anything that can open the database, so a row whose headers are
 * not a JSON object of strings (or whose body is not bytes) is read with empty headers (and body),
 * and {@link readMessageRow} says why, for the transport to set `Delivery.unreadable` (the bus then
 * dead-letters the message with `DECODE` and that reason).
 *
 * @example
 * ```ts
 * const row = db.prepare('SELECT id, type, body, headers, partition_key FROM messages WHERE seq = ?').get(seq);
 * const message = rowToMessage(row);
 * ```
 * @module
 */
import { readStoredHeaders } from './stored-headers.js';
import type { TransportMessage } from './transport.js';

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

/** The transport message stored in `row` (see {@link readMessageRow} for a row that may be unreadable). */
export function rowToMessage(row: MessageRow): TransportMessage {
  return readMessageRow(row).message;
}

const NO_BYTES = new Uint8Array(0);

/** The transport message stored in `row`, and, when part of the row could not be read, why. */
export function readMessageRow(row: MessageRow): { readonly message: TransportMessage; readonly unreadable?: string } {
  const headers = readStoredHeaders(row.headers, 'row');
  const bytes = (row.body as unknown) instanceof Uint8Array;
  const message: TransportMessage = {
    id: String(row.id),
    type: String(row.type),
    body: bytes ? bytesView(row.body) : NO_BYTES,
    headers: headers.headers,
    partitionKey: row.partition_key ?? undefined,
  };
  const unreadable = headers.unreadable ?? (bytes ? undefined : "the row's body is not bytes");
  return unreadable === undefined ? { message } : { message, unreadable };
}
