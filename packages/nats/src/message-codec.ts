/**
 * A `TransportMessage` as a NATS message: the body is the payload as it is; id, type, partition key
 * and the delivery headers travel in NATS headers. The id is `Nats-Msg-Id`, so JetStream's duplicate
 * window drops a publish that is retried after a lost PubAck; copies that must be stored again
 * (dead letters, replays, forwarded schedules) carry their own `Nats-Msg-Id` and the id in `Missive-Id`.
 *
 * The publish path uses {@link wireHeaders}: the header block written as one string, instead of
 * nats.js's `headers()` object, whose `set` validates, canonicalizes and searches its keys per call
 * (about a fifth of the publisher's transport time in a profile). nats.js only calls `encode()` on
 * the headers it publishes, which is all a {@link WireHeaders} has.
 *
 * @example
 * ```ts
 * nc.publish(subject, message.body, { headers: wireHeaders(message) });
 * const back = decodeMessage(msg.data, msg.headers);
 * ```
 * @module
 */
import { headers as natsHeaders, type Msg, type MsgHdrs } from 'nats';
import type { TransportMessage } from '@missive/core';
import { topicOfSubject } from './naming.js';

/** The NATS header names Missive uses. */
export const NatsHeader = {
  MsgId: 'Nats-Msg-Id',
  Id: 'Missive-Id',
  Type: 'Missive-Type',
  Key: 'Missive-Key',
  Headers: 'Missive-Headers',
  Failure: 'Missive-Failure',
  Queue: 'Missive-Queue',
  Due: 'Missive-Due',
  Target: 'Missive-Target',
} as const;

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** Headers for a message; `dedupId` overrides the `Nats-Msg-Id` (then the id goes in `Missive-Id`). */
export function encodeHeaders(
  message: TransportMessage,
  dedupId?: string,
  headers: Readonly<Record<string, string>> = message.headers,
): MsgHdrs {
  const h = natsHeaders();
  if (dedupId === undefined) {
    h.set(NatsHeader.MsgId, message.id);
  } else {
    h.set(NatsHeader.MsgId, dedupId);
    h.set(NatsHeader.Id, message.id);
  }
  h.set(NatsHeader.Type, message.type);
  if (message.partitionKey !== undefined) h.set(NatsHeader.Key, encodeURIComponent(message.partitionKey));
  for (const _ in headers) {
    h.set(NatsHeader.Headers, JSON.stringify(headers));
    break;
  }
  return h;
}

/** A NATS header block already written out: what nats.js's publish needs of a `MsgHdrs` (its `encode()`). */
export class WireHeaders {
  constructor(readonly block: string) {}

  encode(): Uint8Array {
    return Buffer.from(this.block, 'utf8'); // from Node's pool: cheaper than a TextEncoder's own buffer per call
  }
}

/** A value nats.js would publish as it is: no CR or LF (they would end the header), no surrounding space (nats.js trims it). */
function plain(value: string): boolean {
  const n = value.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c === 10 || c === 13) return false;
  }
  const first = value.charCodeAt(0);
  const last = value.charCodeAt(n - 1);
  return (first > 32 && first < 127 && last > 32 && last < 127) || value.trim() === value; // printable ASCII at both ends: nothing to trim
}

/**
 * The headers of a message as published (`Nats-Msg-Id` the message id), written out in one string;
 * a message whose id or type nats.js would have to check or trim goes through {@link encodeHeaders}.
 * `topic`: the topic it is published to; when that is its type, the `Missive-Type` header is left
 * out (the subject, `<p>.<slot>.t.<type>`, says it, and {@link decodeReceived} reads it from there):
 * a third less header per message, which the server stores and sends on.
 */
export function wireHeaders(message: TransportMessage, topic?: string): MsgHdrs {
  if (!plain(message.id) || !plain(message.type)) return encodeHeaders(message);
  let block =
    topic === message.type
      ? `NATS/1.0\r\n${NatsHeader.MsgId}: ${message.id}\r\n`
      : `NATS/1.0\r\n${NatsHeader.MsgId}: ${message.id}\r\n${NatsHeader.Type}: ${message.type}\r\n`;
  if (message.partitionKey !== undefined) block += `${NatsHeader.Key}: ${encodeURIComponent(message.partitionKey)}\r\n`;
  for (const _ in message.headers) {
    block += `${NatsHeader.Headers}: ${JSON.stringify(message.headers)}\r\n`; // JSON escapes CR and LF
    break;
  }
  return new WireHeaders(`${block}\r\n`) as unknown as MsgHdrs;
}

/** What nats.js keeps of a received message (its `MsgImpl`): the raw payload and where the header block ends. */
interface RawMsg {
  readonly _rdata?: unknown;
  readonly _msg?: { readonly hdr?: unknown };
}

/** Whether a header value starts or ends here: nats.js trims spaces and tabs around values. */
function blank(code: number): boolean {
  return code === 32 || code === 9;
}

/**
 * The message in a received NATS message, its header block read straight from the bytes: nats.js's
 * `msg.headers` parses every header through `MsgHdrsImpl` (a regex check and key search per value),
 * about a tenth of a consumer's CPU. One pass over the block: a header Missive reads is recognised by
 * its name in place, and only its value is cut out. Falls back to `msg.headers` when nats.js keeps the
 * message another way. Without a `Missive-Type` header the type is the topic of the subject
 * (see {@link wireHeaders}); messages written with the header (every earlier version) read as before.
 */
export function decodeReceived(msg: Msg): TransportMessage {
  const raw = msg as unknown as RawMsg;
  const data = raw._rdata;
  const end = raw._msg?.hdr;
  if (!(data instanceof Uint8Array) || typeof end !== 'number') return decodeMessage(msg.data, msg.headers, msg.subject);
  if (end < 0) return decodeFields(data, undefined, msg.subject);
  const block = (Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, end)).toString('utf8', 0, end);
  if (!block.startsWith('NATS/1.0\r\n')) return decodeMessage(msg.data, msg.headers, msg.subject); // a status line with a code: not a stored message
  let id = '';
  let msgId = '';
  let type = '';
  let key = '';
  let json = '';
  let at = 10; // after the status line
  while (at < block.length) {
    let next = block.indexOf('\r\n', at);
    if (next === -1) next = block.length;
    const colon = block.indexOf(':', at);
    if (colon > at && colon < next) {
      let from = colon + 1;
      let to = next;
      while (from < to && blank(block.charCodeAt(from))) from++;
      while (to > from && blank(block.charCodeAt(to - 1))) to--;
      // The names as Missive writes them (nats.js keeps a name as written, and so did the reading before).
      const length = colon - at;
      if (length === 11 && msgId === '' && block.startsWith(NatsHeader.MsgId, at)) msgId = block.slice(from, to);
      else if (length === 12 && type === '' && block.startsWith(NatsHeader.Type, at)) type = block.slice(from, to);
      else if (length === 10 && id === '' && block.startsWith(NatsHeader.Id, at)) id = block.slice(from, to);
      else if (length === 11 && key === '' && block.startsWith(NatsHeader.Key, at)) key = block.slice(from, to);
      else if (length === 15 && json === '' && block.startsWith(NatsHeader.Headers, at)) json = block.slice(from, to);
    }
    at = next + 2;
  }
  return message(data.subarray(end), id || msgId, type || topicOfSubject(msg.subject), key, json);
}

/** The message in a NATS message (the headers read in one pass); `subject` gives the type of a message without `Missive-Type`. */
export function decodeMessage(data: Uint8Array, h: MsgHdrs | undefined, subject?: string): TransportMessage {
  return decodeFields(
    data,
    h === undefined ? undefined : [...h].map(([name, values]): [string, string] => [name, values[0] ?? '']),
    subject,
  );
}

function decodeFields(data: Uint8Array, fields: readonly [string, string][] | undefined, subject: string | undefined): TransportMessage {
  let id = '';
  let msgId = '';
  let type = '';
  let key = '';
  let json = '';
  for (const [name, value] of fields ?? []) {
    if (name === NatsHeader.MsgId) msgId ||= value;
    else if (name === NatsHeader.Id) id ||= value;
    else if (name === NatsHeader.Type) type ||= value;
    else if (name === NatsHeader.Key) key ||= value;
    else if (name === NatsHeader.Headers) json ||= value;
  }
  if (type === '' && subject !== undefined) type = topicOfSubject(subject);
  return message(data, id || msgId, type, key, json);
}

function message(body: Uint8Array, id: string, type: string, key: string, json: string): TransportMessage {
  let headers = NO_HEADERS;
  if (json) {
    try {
      headers = JSON.parse(json) as Record<string, string>;
    } catch {
      headers = NO_HEADERS; // a foreign writer: the body is still delivered (and dead-lettered by the bus if unreadable)
    }
  }
  return { id, type, body, headers, partitionKey: key ? decodeURIComponent(key) : undefined };
}
