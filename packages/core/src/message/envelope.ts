/**
 * The envelope: what travels for every message. Its attributes are CloudEvents 1.0 (structured
 * JSON mode) plus the extensions messaging needs, spelled as CloudEvents extension names
 * (lower-case letters and digits), so any CloudEvents client reads a Missive message as-is.
 *
 * The envelope is immutable once published. What changes between deliveries of one message
 * (attempt counters, replay marks) travels in transport headers instead (see `Header`), so a
 * dead letter holds the original envelope untouched.
 *
 * On the wire the JSON codec leaves out the attributes that hold their default or repeat another
 * (`datacontenttype`, `messagekind` `event`, `dataversion` 1, a `correlationid` equal to `id`, a
 * `conversationid` equal to `correlationid`) and puts them back on reading, so an `Envelope` in
 * code always has them; envelopes written in full are read as before (see `wire-form.ts`). A
 * transport that carries attributes in its own headers may take the envelope in CloudEvents binary
 * content mode instead (the data alone, the attributes as strings: `binary-form.ts`; NATS with
 * `contentMode=binary`).
 *
 * @example
 * ```ts
 * const envelope = createEnvelope({ type: 'shop.order-placed', source: '/missive/shop', data: { orderId: 'o-1' } });
 * envelope.correlationid === envelope.id; // a new conversation starts with the message itself
 * ```
 * @module
 */
import { randomUUID } from 'node:crypto';

/** What kind of message an envelope holds. */
export type MessageKind = 'event' | 'command' | 'query' | 'reply';

/** A Missive message on the wire. Attribute names are the CloudEvents ones. */
export interface Envelope<T = unknown> {
  /** CloudEvents: unique id of the message. */
  readonly id: string;
  /** CloudEvents: the message type, which is the contract's name. */
  readonly type: string;
  /** CloudEvents: the sending service, as `/missive/<service>`. */
  readonly source: string;
  readonly specversion: '1.0';
  /** CloudEvents: when the message was created (RFC 3339). */
  readonly time: string;
  readonly datacontenttype: 'application/json';
  readonly dataschema?: string;
  readonly subject?: string;
  readonly data: T;
  /** Missive: event, command, query or reply. */
  readonly messagekind: MessageKind;
  /** Missive: the contract version the payload was written against. */
  readonly dataversion: number;
  /** Missive: the id shared by every message of one business transaction. */
  readonly correlationid: string;
  /** Missive: the id of the message whose handling produced this one. */
  readonly causationid?: string;
  /** Missive: the id of the conversation (a request and its replies, a saga's exchanges). */
  readonly conversationid: string;
  /** W3C trace context. */
  readonly traceparent?: string;
  readonly tracestate?: string;
  /** Missive: the ordering key. */
  readonly partitionkey?: string;
  /** Missive: the queue a reply goes to. */
  readonly replyto?: string;
  /** Missive: after this time (RFC 3339) the message is not handled. */
  readonly expiresat?: string;
  /** Missive, on replies: `error` when the responder failed (then `data` is `{ name, message }`). */
  readonly replystatus?: 'ok' | 'error';
}

/** What {@link createEnvelope} needs; everything else has a default. */
export interface EnvelopeInit<T> {
  readonly type: string;
  readonly source: string;
  readonly data: T;
  readonly kind?: MessageKind;
  readonly version?: number;
  readonly id?: string;
  /** When the message was created: a `Date`, or its RFC 3339 string as `toISOString` writes it. Default: now. */
  readonly time?: Date | string;
  readonly correlationId?: string;
  readonly causationId?: string;
  readonly conversationId?: string;
  readonly traceparent?: string;
  readonly tracestate?: string;
  readonly partitionKey?: string;
  readonly replyTo?: string;
  readonly expiresAt?: number;
  readonly subject?: string;
  readonly dataschema?: string;
  readonly replyStatus?: 'ok' | 'error';
}

/** Builds an envelope; a message without a correlation id starts its own conversation. */
export function createEnvelope<T>(init: EnvelopeInit<T>): Envelope<T> {
  const id = init.id ?? randomUUID();
  const envelope: { -readonly [K in keyof Envelope<T>]: Envelope<T>[K] } = {
    specversion: '1.0',
    id,
    type: init.type,
    source: init.source,
    time: typeof init.time === 'string' ? init.time : (init.time ?? new Date()).toISOString(),
    datacontenttype: 'application/json',
    messagekind: init.kind ?? 'event',
    dataversion: init.version ?? 1,
    correlationid: init.correlationId ?? id,
    conversationid: init.conversationId ?? init.correlationId ?? id,
    data: init.data,
  };
  if (init.causationId !== undefined) envelope.causationid = init.causationId;
  if (init.traceparent !== undefined) envelope.traceparent = init.traceparent;
  if (init.tracestate !== undefined) envelope.tracestate = init.tracestate;
  if (init.partitionKey !== undefined) envelope.partitionkey = init.partitionKey;
  if (init.replyTo !== undefined) envelope.replyto = init.replyTo;
  if (init.expiresAt !== undefined) envelope.expiresat = new Date(init.expiresAt).toISOString();
  if (init.subject !== undefined) envelope.subject = init.subject;
  if (init.dataschema !== undefined) envelope.dataschema = init.dataschema;
  if (init.replyStatus !== undefined) envelope.replystatus = init.replyStatus;
  return envelope;
}

/** The source attribute for a service. */
export function sourceOf(service: string): string {
  return `/missive/${service}`;
}
