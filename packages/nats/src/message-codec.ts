/**
 * A `TransportMessage` as a NATS message. Id, type, partition key and the delivery headers travel in
 * NATS headers; the id is `Nats-Msg-Id`, so JetStream's duplicate window drops a publish that is
 * retried after a lost PubAck; copies that must be stored again (dead letters, replays, forwarded
 * schedules) carry their own `Nats-Msg-Id` and the id in `Missive-Id`.
 *
 * The payload takes one of two forms (the CloudEvents NATS binding's content modes):
 *
 * - **binary** (a `BinaryMessage`, what the bus publishes and sends): the payload is the envelope's
 *   data alone, each other attribute a `ce-<name>` header, its value percent-encoded as the binding
 *   says (space, `"`, `%` and anything outside printable ASCII). Left off the wire because NATS
 *   already says them: `ce-id` (it is `Nats-Msg-Id`), `ce-type` on a publish to the topic named after
 *   the type (the subject says it), `ce-specversion` when `1.0`; and `Missive-Key` when it repeats
 *   `ce-partitionkey`. The reader puts them back.
 * - **structured** (any other message, and every stored copy: dead letters, schedules): the payload is
 *   the body as it is (the envelope's JSON); `Missive-Type` names the type unless the subject does.
 *
 * A message with any `ce-` header is read as binary, any other as structured, so messages written
 * by earlier versions (all structured) read as before.
 *
 * The publish path uses {@link wireOf}: the header block written as one string, instead of
 * nats.js's `headers()` object, whose `set` validates, canonicalizes and searches its keys per call
 * (about a fifth of the publisher's transport time in a profile). nats.js only calls `encode()` on
 * the headers it publishes, which is all a {@link WireHeaders} has.
 *
 * @example
 * ```ts
 * const wire = wireOf(message, topic);
 * nc.publish(subject, wire.data, { headers: wire.headers });
 * const back = decodeReceived(msg);
 * ```
 * @module
 */
import { headers as natsHeaders, type Msg, type MsgHdrs } from 'nats';
import type { TransportMessage } from '@missive/core';
import { BinaryMessage, isAttributeName } from '@missive/core/transport';
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
  /** Deliveries a message had before it was written again alone (out of a batch message, see `batch.ts`). */
  Deliveries: 'Missive-Deliveries',
  /** On a batch message: how many messages it holds (see `batch.ts`). */
  Batch: 'Missive-Batch',
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

/** A message as a publish writes it: its header block and its payload. */
export interface Wire {
  readonly headers: MsgHdrs;
  readonly data: Uint8Array;
}

/**
 * A message as published (`Nats-Msg-Id` the message id): the header block written out in one string,
 * and the payload. A {@link BinaryMessage} goes in binary mode (see the module's comment) unless an
 * attribute cannot be a header value; a message whose id or type nats.js would have to check or trim
 * goes through {@link encodeHeaders}. `topic`: the topic it is published to; when that is its type,
 * the type is left out (the subject, `<p>.<slot>.t.<type>`, says it, and {@link decodeReceived} reads
 * it from there): less header per message, which the server stores and sends on.
 */
export function wireOf(message: TransportMessage, topic?: string, binary = true): Wire {
  if (!plain(message.id) || !plain(message.type)) return { headers: encodeHeaders(message), data: message.body };
  let block = `NATS/1.0\r\n${NatsHeader.MsgId}: ${message.id}\r\n`;
  let data: Uint8Array | undefined;
  let key = message.partitionKey;
  if (binary && message instanceof BinaryMessage) {
    const ce = ceHeaders(message, topic);
    if (ce !== undefined) {
      block += ce;
      data = message.form.data;
      if (key === message.form.attributes.partitionkey) key = undefined; // ce-partitionkey says it
    }
  }
  if (data === undefined && topic !== message.type) block += `${NatsHeader.Type}: ${message.type}\r\n`;
  if (key !== undefined) block += `${NatsHeader.Key}: ${encodeURIComponent(key)}\r\n`;
  for (const _ in message.headers) {
    block += `${NatsHeader.Headers}: ${JSON.stringify(message.headers)}\r\n`; // JSON escapes CR and LF
    break;
  }
  return { headers: new WireHeaders(`${block}\r\n`) as unknown as MsgHdrs, data: data ?? message.body };
}

/** The header block of a message published structured (the body as it is): {@link wireOf} without the binary mode. */
export function wireHeaders(message: TransportMessage, topic?: string): MsgHdrs {
  return wireOf(message, topic, false).headers;
}

/**
 * The `ce-` header lines of a binary message (id, type on its own topic, and specversion 1.0 left
 * out), or undefined when a value cannot be written as the binding says (a lone surrogate).
 */
function ceHeaders(message: BinaryMessage, topic: string | undefined): string | undefined {
  const attributes = message.form.attributes;
  let lines = '';
  for (const name in attributes) {
    const value = attributes[name]!;
    if (name === 'id') {
      if (value === message.id) continue;
    } else if (name === 'type') {
      if (value === topic) continue;
    } else if (name === 'specversion' && value === '1.0') continue;
    const text = headerSafe(value) ? value : percentEncoded(value);
    if (text === undefined) return undefined;
    lines += `ce-${name}: ${text}\r\n`;
  }
  return lines;
}

/** Whether `value` goes into a header as it is: printable ASCII but `"` and `%` (the binding's rule), not empty. */
function headerSafe(value: string): boolean {
  const n = value.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x21 || c > 0x7e || c === 0x22 || c === 0x25) return false;
  }
  return true;
}

/**
 * `value` percent-encoded: everything the binding names is encoded, and a little more that it allows
 * (`encodeURIComponent`'s set). An empty value is written `""` (a quoted empty string). Undefined for
 * text that is not well-formed UTF-16.
 */
function percentEncoded(value: string): string | undefined {
  if (value === '') return '""';
  try {
    return encodeURIComponent(value);
  } catch {
    return undefined;
  }
}

/** A `ce-` header value read back: unquoted if quoted (older binding versions), then percent-decoded. Throws `URIError` on bad encoding. */
function headerValue(text: string): string {
  let value = text;
  if (value.length >= 2 && value.charCodeAt(0) === 34 && value.charCodeAt(value.length - 1) === 34) {
    value = value.slice(1, -1).replace(/\\(.)/g, '$1');
  }
  return value.includes('%') ? decodeURIComponent(value) : value;
}

/** Thrown by {@link decodeReceived} for a message whose headers cannot be read; the consumer hands it over unreadable. */
export class UnreadableHeaderError extends Error {
  override readonly name = 'UnreadableHeaderError';
}

/** What can be said of a message whose headers cannot be read (its delivery is `unreadable`, and dead-lettered as it is). */
export function unreadableMessage(msg: Msg): TransportMessage {
  return { id: msg.headers?.get(NatsHeader.MsgId) ?? '', type: '', body: msg.data, headers: NO_HEADERS };
}

/** As {@link unreadableMessage}, for a header block read from the bytes (a member of a batch message): its id, so its dead letter is found by it. */
export function unreadableBlock(block: string, body: Uint8Array): TransportMessage {
  return { id: valueIn(block, NatsHeader.Id) || valueIn(block, NatsHeader.MsgId), type: '', body, headers: NO_HEADERS };
}

/** The value of header `name` in a header block (its first), or `''`. */
function valueIn(block: string, name: string): string {
  const at = block.indexOf(`\r\n${name}:`);
  if (at === -1) return '';
  const from = at + name.length + 3;
  const end = block.indexOf('\r\n', from);
  return block.slice(from, end === -1 ? block.length : end).trim();
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
export function decodeReceived(msg: Msg, meta?: ReceivedMeta): TransportMessage {
  const raw = msg as unknown as RawMsg;
  const data = raw._rdata;
  const end = raw._msg?.hdr;
  if (!(data instanceof Uint8Array) || typeof end !== 'number') return decodeMessage(msg.data, msg.headers, msg.subject, meta);
  if (end < 0) return decodeFields(data, undefined, msg.subject);
  const block = (Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, end)).toString('utf8', 0, end);
  if (!block.startsWith('NATS/1.0\r\n')) return decodeMessage(msg.data, msg.headers, msg.subject, meta); // a status line with a code: not a stored message
  return decodeBlock(block, data.subarray(end), msg.subject, meta);
}

/** What a reader learns of a received message besides the message: the deliveries it had before it was written again (`Missive-Deliveries`). */
export interface ReceivedMeta {
  prior: number;
}

/**
 * The message of a header block (`NATS/1.0\r\n…\r\n\r\n`, as written) and its payload: a received
 * message's, or a member's of a batch message (see `batch.ts`). `subject`: where it was stored.
 */
export function decodeBlock(block: string, body: Uint8Array, subject: string, meta?: ReceivedMeta): TransportMessage {
  const fields = new Fields();
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
      // The names as Missive writes them (nats.js keeps a name as written, and so did the reading before);
      // `ce-` in any case (the binding's names are case-insensitive).
      const length = colon - at;
      const c = block.charCodeAt(at) | 0x20;
      if (c === 0x63 && length > 3 && (block.charCodeAt(at + 1) | 0x20) === 0x65 && block.charCodeAt(at + 2) === 0x2d) {
        fields.attribute(knownAttribute(block, at + 3, colon) ?? block.slice(at + 3, colon), block.slice(from, to));
      } else if (length === 11 && fields.msgId === '' && block.startsWith(NatsHeader.MsgId, at)) fields.msgId = block.slice(from, to);
      else if (length === 12 && fields.type === '' && block.startsWith(NatsHeader.Type, at)) fields.type = block.slice(from, to);
      else if (length === 10 && fields.id === '' && block.startsWith(NatsHeader.Id, at)) fields.id = block.slice(from, to);
      else if (length === 11 && fields.key === '' && block.startsWith(NatsHeader.Key, at)) fields.key = block.slice(from, to);
      else if (length === 15 && fields.json === '' && block.startsWith(NatsHeader.Headers, at)) fields.json = block.slice(from, to);
      else if (length === 18 && meta !== undefined && block.startsWith(NatsHeader.Deliveries, at))
        meta.prior = counter(block.slice(from, to));
    }
    at = next + 2;
  }
  return fields.message(body, subject);
}

/** A `Missive-Deliveries` value: a whole number from 0 up, else 0 (a foreign writer cannot lower a count). */
function counter(text: string): number {
  return /^\d{1,9}$/.test(text) ? Number(text) : 0;
}

/** The message in a NATS message (the headers read in one pass); `subject` gives the type of a message without it in a header. */
export function decodeMessage(data: Uint8Array, h: MsgHdrs | undefined, subject?: string, meta?: ReceivedMeta): TransportMessage {
  if (meta !== undefined) meta.prior = counter(h?.get(NatsHeader.Deliveries) ?? '');
  return decodeFields(
    data,
    h === undefined ? undefined : [...h].map(([name, values]): [string, string] => [name, values[0] ?? '']),
    subject,
  );
}

function decodeFields(data: Uint8Array, headers: readonly [string, string][] | undefined, subject: string | undefined): TransportMessage {
  const fields = new Fields();
  for (const [name, value] of headers ?? []) {
    if (name.length > 3 && name.slice(0, 3).toLowerCase() === 'ce-') fields.attribute(name.slice(3), value);
    else if (name === NatsHeader.MsgId) fields.msgId ||= value;
    else if (name === NatsHeader.Id) fields.id ||= value;
    else if (name === NatsHeader.Type) fields.type ||= value;
    else if (name === NatsHeader.Key) fields.key ||= value;
    else if (name === NatsHeader.Headers) fields.json ||= value;
  }
  return fields.message(data, subject);
}

/** The attributes an envelope has, by name length (their names as constants: a header's name matched in place needs no string of its own). */
const KNOWN_ATTRIBUTES: readonly (readonly string[])[] = (() => {
  const names = [
    'specversion',
    'id',
    'type',
    'source',
    'time',
    'datacontenttype',
    'dataschema',
    'subject',
    'messagekind',
    'dataversion',
    'correlationid',
    'causationid',
    'conversationid',
    'traceparent',
    'tracestate',
    'partitionkey',
    'replyto',
    'expiresat',
    'replystatus',
  ];
  const byLength: string[][] = [];
  for (const name of names) (byLength[name.length] ??= []).push(name);
  return byLength;
})();

/** The attribute named in `block` from `from` to `to` (as written: lower case), if an envelope has it. */
function knownAttribute(block: string, from: number, to: number): string | undefined {
  const candidates = KNOWN_ATTRIBUTES[to - from];
  if (candidates === undefined) return undefined;
  for (const name of candidates) if (block.startsWith(name, from)) return name;
  return undefined;
}

/**
 * A `Missive-Key` value (URI-encoded); one that is not (another writer's) makes the message
 * unreadable, not an exception out of the consumer's receive.
 */
function keyOf(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch (error) {
    throw new UnreadableHeaderError(`header ${NatsHeader.Key} is not percent-encoded UTF-8`, { cause: error });
  }
}

/** The headers Missive reads, as they are found; the first of a repeated one counts. */
class Fields {
  id = '';
  msgId = '';
  type = '';
  key = '';
  json = '';
  /** The `ce-` headers' values, by attribute name (binary mode); undefined when there are none (structured). */
  attributes: Record<string, string> | undefined;

  attribute(header: string, text: string): void {
    const name = isAttributeName(header) ? header : header.toLowerCase();
    if (!isAttributeName(name)) throw new UnreadableHeaderError(`header ce-${header} does not name a CloudEvents attribute`);
    this.attributes ??= {};
    if (Object.hasOwn(this.attributes, name)) return;
    try {
      this.attributes[name] = headerValue(text);
    } catch (error) {
      throw new UnreadableHeaderError(`header ce-${header} is not percent-encoded UTF-8`, { cause: error });
    }
  }

  message(body: Uint8Array, subject: string | undefined): TransportMessage {
    let headers = NO_HEADERS;
    if (this.json) {
      try {
        headers = JSON.parse(this.json) as Record<string, string>;
      } catch {
        headers = NO_HEADERS; // a foreign writer: the body is still delivered (and dead-lettered by the bus if unreadable)
      }
    }
    const id = this.id || this.msgId;
    const attributes = this.attributes;
    if (attributes === undefined) {
      const type = this.type || (subject === undefined ? '' : topicOfSubject(subject));
      return { id, type, body, headers, partitionKey: this.key ? keyOf(this.key) : undefined };
    }
    // Binary mode: what the writer left off the wire, put back.
    attributes.specversion ??= '1.0';
    attributes.id ??= id;
    attributes.type ??= this.type || (subject === undefined ? '' : topicOfSubject(subject));
    const key = this.key ? keyOf(this.key) : attributes.partitionkey;
    return new BinaryMessage({ attributes, data: body }, headers, key);
  }
}
