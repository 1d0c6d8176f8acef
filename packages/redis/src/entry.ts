/**
 * Stream entries as the transport writes and reads them: a message becomes the field `m` (its id,
 * type and body in one value, see {@link messageValue}), and when set `h` (headers as JSON) and `k`
 * (partition key); scripts add `dc` (deliveries before this entry) and `o` (the token that keeps a
 * re-written message's key), and `f` (the failure) on a dead letter. One field for the three
 * instead of `i`, `t` and `b` (what entries written before 2026-11-30 hold, and what is still read):
 * every value is a string Redis stores, the publish script unpacks and ioredis turns into a Buffer
 * on the way back, so six fewer per message.
 *
 * @example
 * ```ts
 * const fields = entryFields(message);            // for XADD
 * const { message, priorDeliveries } = readEntry(fieldsFromRedis);
 * ```
 * @module
 */
import { readStoredHeaders, type TransportMessage } from '@missive/core/transport';

const EMPTY: Readonly<Record<string, string>> = Object.freeze({});
/** The body of an entry without `b` (shared: a Buffer of no bytes cannot be written to). */
const NO_BODY = Buffer.alloc(0);

/** The first byte of an `m` value: its layout (this one). */
const MESSAGE_V1 = 1;

/**
 * The `m` value of a message: byte 1, then the id and the type, each as a 32-bit big-endian byte
 * length and its UTF-8 bytes, then the body to the end. The scripts read the id of it (see
 * `messageId` in `lua-common.ts`).
 */
export function messageValue(message: TransportMessage): Buffer {
  const idBytes = Buffer.byteLength(message.id);
  const typeBytes = Buffer.byteLength(message.type);
  const value = Buffer.allocUnsafe(9 + idBytes + typeBytes + message.body.byteLength);
  value[0] = MESSAGE_V1;
  value.writeUInt32BE(idBytes, 1);
  value.write(message.id, 5, 'utf8');
  value.writeUInt32BE(typeBytes, 5 + idBytes);
  value.write(message.type, 9 + idBytes, 'utf8');
  value.set(message.body, 9 + idBytes + typeBytes);
  return value;
}

/** The fields of a message, ready for XADD. */
export function entryFields(message: TransportMessage): (string | Buffer)[] {
  const fields: (string | Buffer)[] = ['m', messageValue(message)];
  for (const _ in message.headers) {
    fields.push('h', JSON.stringify(message.headers));
    break;
  }
  if (message.partitionKey !== undefined) fields.push('k', message.partitionKey);
  return fields;
}

/** The first byte of an `M` value: its layout (this one). */
const BATCH_V1 = 2;

/** The most messages one batch entry holds. */
export const BATCH_MAX_MESSAGES = 64;
/** The most bytes of messages one batch entry holds (a bigger message goes alone). */
export const BATCH_MAX_BYTES = 256 * 1024;

/**
 * Whether a message's entry fields (from {@link entryFields}) may share a batch entry: `m` and
 * optionally `h`, no partition key (a keyed message stays one entry: the ordered fetch takes its
 * key per entry).
 */
export function batchable(fields: readonly (string | Buffer)[]): boolean {
  return fields.length === 2 || (fields.length === 4 && fields[2] === 'h');
}

/**
 * The `M` value of a batch entry: byte 2, the message count (32-bit big-endian), then per message
 * its `m` value and its headers JSON (empty: none), each as a 32-bit big-endian byte length and
 * its bytes. The scripts split it (`members` in `lua-common.ts`).
 */
export function batchValue(messages: readonly (readonly (string | Buffer)[])[]): Buffer {
  let size = 5;
  for (const fields of messages) {
    size += 8 + (fields[1] as Buffer).length;
    if (fields.length === 4) size += Buffer.byteLength(fields[3] as string);
  }
  const value = Buffer.allocUnsafe(size);
  value[0] = BATCH_V1;
  value.writeUInt32BE(messages.length, 1);
  let at = 5;
  for (const fields of messages) {
    const m = fields[1] as Buffer;
    value.writeUInt32BE(m.length, at);
    value.set(m, at + 4);
    at += 4 + m.length;
    const h = fields.length === 4 ? value.write(fields[3] as string, at + 4, 'utf8') : 0;
    value.writeUInt32BE(h, at);
    at += 4 + h;
  }
  return value;
}

/** One message of a batch entry: the message, and its `m` and `h` values (a nack writes them again as an entry of its own). */
export interface BatchMember {
  readonly message: TransportMessage;
  readonly value: Buffer;
  readonly headers: Buffer | undefined;
  /** Why its headers could not be read (see `Delivery.unreadable`). */
  readonly unreadable: string | undefined;
}

/** The `M` value of a batch entry, when the entry is one (its first field is `M`). */
export function batchOf(fields: readonly Buffer[]): Buffer | undefined {
  const name = fields[0];
  return name !== undefined && name.length === 1 && name[0] === 0x4d ? fields[1] : undefined;
}

/**
 * The messages of a batch entry's `M` value, in the order they were published; undefined when the
 * value is not one Missive wrote (a layout, count or length that does not fit its bytes): the
 * consumer then delivers the entry whole as unreadable, for the bus to dead-letter it.
 */
export function readBatch(value: Buffer): BatchMember[] | undefined {
  if (value[0] !== BATCH_V1 || value.length < 5) return undefined;
  const count = value.readUInt32BE(1);
  if (count < 1 || count > BATCH_MAX_MESSAGES) return undefined;
  const members: BatchMember[] = new Array<BatchMember>(count);
  let at = 5;
  for (let i = 0; i < count; i++) {
    if (at + 4 > value.length) return undefined;
    const mEnd = at + 4 + value.readUInt32BE(at);
    if (mEnd + 4 > value.length) return undefined;
    const hEnd = mEnd + 4 + value.readUInt32BE(mEnd);
    if (hEnd > value.length) return undefined;
    const m = value.subarray(at + 4, mEnd);
    const layout = messageLayout(m);
    if (layout === undefined) return undefined;
    const h = hEnd > mEnd + 4 ? value.subarray(mEnd + 4, hEnd) : undefined;
    at = hEnd;
    const headers = h === undefined ? { headers: EMPTY } : readStoredHeaders(h, 'entry');
    const message = readMessage(m, layout, headers.headers);
    members[i] = { message, value: m, headers: h, unreadable: headers.unreadable };
  }
  return at === value.length ? members : undefined;
}

/**
 * Where the id and the type of an `m` value end (see {@link messageValue}), or undefined when the
 * value is not in that layout or its lengths run past its end.
 */
function messageLayout(value: Buffer): { idEnd: number; typeEnd: number } | undefined {
  if (value[0] !== MESSAGE_V1 || value.length < 9) return undefined;
  const idEnd = 5 + value.readUInt32BE(1);
  if (idEnd + 4 > value.length) return undefined;
  const typeEnd = idEnd + 4 + value.readUInt32BE(idEnd);
  return typeEnd > value.length ? undefined : { idEnd, typeEnd };
}

/** A message from its `m` value (see {@link messageValue}) and where its id and type end. */
function readMessage(
  value: Buffer,
  layout: { idEnd: number; typeEnd: number },
  headers: Readonly<Record<string, string>>,
): TransportMessage {
  return {
    id: value.toString('utf8', 5, layout.idEnd),
    type: value.toString('utf8', layout.idEnd + 4, layout.typeEnd),
    body: value.subarray(layout.typeEnd),
    headers,
    partitionKey: undefined,
  };
}

/** A message read back from an entry, with what the scripts added. */
export interface ReadEntry {
  readonly message: TransportMessage;
  /** Deliveries made before this entry was written (`dc`; 0 when it is not a whole number from 0). */
  readonly priorDeliveries: number;
  /** The token that keeps the message's key (`o`), if it was written again while holding it. */
  readonly token: string | undefined;
  /** The failure JSON of a dead letter (`f`). */
  readonly failure: string | undefined;
  /** Why the entry is not a message as Missive writes them (see `Delivery.unreadable`); then `message` holds what could be read. */
  readonly unreadable: string | undefined;
}

/**
 * Reads an entry's fields (Buffers, as ioredis returns them in buffer mode). Never throws: an entry
 * written by something else (no message, an `m` value whose lengths do not fit, headers that are not
 * a JSON object of strings) is read as far as it goes, with `unreadable` saying what was wrong.
 */
export function readEntry(fields: readonly Buffer[]): ReadEntry {
  let id = '';
  let type = '';
  let body: Buffer = NO_BODY;
  let headers = EMPTY;
  let partitionKey: string | undefined;
  let priorDeliveries = 0;
  let token: string | undefined;
  let failure: string | undefined;
  let unreadable: string | undefined;
  let found = false;
  for (let j = 0; j + 1 < fields.length; j += 2) {
    const name = fields[j]!;
    const value = fields[j + 1]!;
    switch (name.length === 1 ? name[0] : 0) {
      case 0x6d: {
        // m: id, type and body (see messageValue)
        const layout = messageLayout(value);
        if (layout === undefined) {
          unreadable ??= "the entry's m field is not a message in Missive's layout";
          break;
        }
        found = true;
        id = value.toString('utf8', 5, layout.idEnd);
        type = value.toString('utf8', layout.idEnd + 4, layout.typeEnd);
        body = value.subarray(layout.typeEnd);
        break;
      }
      case 0x69: // i
        found = true;
        id = value.toString();
        break;
      case 0x74: // t
        type = value.toString();
        break;
      case 0x62: // b
        body = value;
        break;
      case 0x68: {
        // h
        const read = readStoredHeaders(value, 'entry');
        headers = read.headers;
        unreadable ??= read.unreadable;
        break;
      }
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
        if (name.toString() === 'dc') priorDeliveries = wholeCount(value.toString());
    }
  }
  if (!found) unreadable ??= `the entry holds no message (fields ${JSON.stringify(fieldNames(fields))})`;
  return { message: { id, type, body, headers, partitionKey }, priorDeliveries, token, failure, unreadable };
}

/**
 * A count an entry carries (`dc`): a whole number from 0, else 0. Anyone who can write to the
 * stream can write it: a negative count would keep a message that crashes its consumers below
 * `maxDeliveries` for good, and one that is not a number would reach the scripts as `NaN`.
 */
function wholeCount(text: string): number {
  const n = Number(text);
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

/** The names of an entry's fields, for a reason (at most 8, each cut to 20 characters). */
function fieldNames(fields: readonly Buffer[]): string[] {
  const names: string[] = [];
  for (let j = 0; j < fields.length && names.length < 8; j += 2) names.push(fields[j]!.toString('utf8', 0, 20));
  return names;
}
