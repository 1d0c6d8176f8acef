/**
 * Stream entries as the transport writes and reads them: a message becomes the fields `i`, `t`,
 * `b`, and when set `h` (headers as JSON) and `k` (partition key); scripts add `dc` (deliveries
 * before this entry) and `o` (the token that keeps a re-written message's key), and `f` (the
 * failure) on a dead letter.
 *
 * @example
 * ```ts
 * const fields = entryFields(message);            // for XADD
 * const { message, priorDeliveries } = readEntry(fieldsFromRedis);
 * ```
 * @module
 */
import type { TransportMessage } from '@missive/core/transport';

const EMPTY: Readonly<Record<string, string>> = Object.freeze({});
/** The body of an entry without `b` (shared: a Buffer of no bytes cannot be written to). */
const NO_BODY = Buffer.alloc(0);

/** Headers JSON; an unreadable value (not written by Missive) reads as no headers rather than stopping the consumer. */
function parseHeaders(value: Buffer): Readonly<Record<string, string>> {
  try {
    const parsed = JSON.parse(value.toString()) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, string>) : EMPTY;
  } catch {
    return EMPTY;
  }
}

/** The fields of a message, ready for XADD. */
export function entryFields(message: TransportMessage): (string | Buffer)[] {
  const body = message.body;
  // ioredis sends a Buffer as bytes but turns any other Uint8Array into "1,2,3": wrap, never copy.
  const fields: (string | Buffer)[] = [
    'i',
    message.id,
    't',
    message.type,
    'b',
    Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength),
  ];
  for (const _ in message.headers) {
    fields.push('h', JSON.stringify(message.headers));
    break;
  }
  if (message.partitionKey !== undefined) fields.push('k', message.partitionKey);
  return fields;
}

/** A message read back from an entry, with what the scripts added. */
export interface ReadEntry {
  readonly message: TransportMessage;
  /** Deliveries made before this entry was written (`dc`). */
  readonly priorDeliveries: number;
  /** The token that keeps the message's key (`o`), if it was written again while holding it. */
  readonly token: string | undefined;
  /** The failure JSON of a dead letter (`f`). */
  readonly failure: string | undefined;
}

/** Reads an entry's fields (Buffers, as ioredis returns them in buffer mode). */
export function readEntry(fields: readonly Buffer[]): ReadEntry {
  let id = '';
  let type = '';
  let body: Buffer = NO_BODY;
  let headers = EMPTY;
  let partitionKey: string | undefined;
  let priorDeliveries = 0;
  let token: string | undefined;
  let failure: string | undefined;
  for (let j = 0; j + 1 < fields.length; j += 2) {
    const name = fields[j]!;
    const value = fields[j + 1]!;
    switch (name.length === 1 ? name[0] : 0) {
      case 0x69: // i
        id = value.toString();
        break;
      case 0x74: // t
        type = value.toString();
        break;
      case 0x62: // b
        body = value;
        break;
      case 0x68: // h
        headers = parseHeaders(value);
        break;
      case 0x6b: // k
        partitionKey = value.toString();
        break;
      case 0x6f: // o
        token = value.toString();
        break;
      case 0x66: // f
        failure = value.toString();
        break;
      default:
        if (name.toString() === 'dc') priorDeliveries = Number(value.toString());
    }
  }
  return { message: { id, type, body, headers, partitionKey }, priorDeliveries, token, failure };
}
