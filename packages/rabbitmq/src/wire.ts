/**
 * AMQP messages as transport messages: Missive's headers (the `x-` ones are the broker's and the
 * transport's), the partition key, the content type the bus checks against its codec, and the
 * delivery count the broker and the republish header together give.
 *
 * @example
 * ```ts
 * const message = transportMessage(raw); // { id, type, body, headers, partitionKey }
 * ```
 * @module
 */
import type * as amqp from 'amqplib';
import { Header, type TransportMessage } from '@missive/core';
import { TransportHeader, bytesView, isTransportHeader } from '@missive/core/transport';

/** The content type the transport publishes with (the JSON codec's). */
export const CONTENT_TYPE = 'application/cloudevents+json';
/** Header holding the number of republishes of a message (nack with new headers, delays). */
export const REPUBLISHED = 'x-missive-republished';
/** Header that routes a delayed message to its delay queue; dropped from the message's headers on delivery. */
export const DELAY_HEADER = 'missive-delay-bucket';

/** Missive's headers of an AMQP message (its `x-` headers are the broker's). */
export function missiveHeaders(message: amqp.Message): Record<string, string> {
  const out: Record<string, string> = {};
  const headers = message.properties.headers;
  // A loop over the keys rather than Object.entries: this runs for every delivery, mostly on no headers.
  for (const key in headers) {
    if (!Object.hasOwn(headers, key)) continue;
    const value = headers[key];
    if (!isTransportHeader(key) && key !== DELAY_HEADER && value !== undefined && value !== null)
      out[key] = typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  }
  return out;
}

/** A count a header carries: a whole number from 0, else 0 (anyone who can publish can write it). */
function wholeCount(value: unknown): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' || Buffer.isBuffer(value) ? Number(String(value)) : Number.NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

/** Earlier deliveries the broker counted: a quorum queue's `x-delivery-count`, else the redelivered flag. */
export function brokerRedeliveries(headers: Readonly<Record<string, unknown>>, redelivered: boolean): number {
  const counted = headers['x-delivery-count'];
  return counted !== undefined && counted !== null ? Math.max(wholeCount(counted), redelivered ? 1 : 0) : redelivered ? 1 : 0;
}

/** Deliveries made before the message was republished (delayed nack); never negative. */
export function republishedCount(value: unknown): number {
  return value === undefined || value === null ? 0 : wholeCount(value);
}

/** The transport message of an AMQP message. */
export function transportMessage(message: amqp.Message): TransportMessage {
  const headers = (message.properties.headers ?? {}) as Record<string, unknown>;
  const key = headers[TransportHeader.PartitionKey];
  const { contentType, contentEncoding } = message.properties as { contentType?: string; contentEncoding?: string };
  let missive = missiveHeaders(message);
  // The bus checks what the body claims to be against its codec; the usual case costs nothing.
  if ((contentType !== undefined && contentType !== CONTENT_TYPE) || contentEncoding !== undefined) {
    missive = { ...missive };
    if (contentType !== undefined && contentType !== CONTENT_TYPE) missive[Header.ContentType] = contentType;
    if (contentEncoding !== undefined) missive[Header.ContentEncoding] = contentEncoding;
  }
  return {
    id: String(message.properties.messageId ?? ''),
    type: String(message.properties.type ?? ''),
    body: bytesView(message.content),
    headers: missive,
    partitionKey: typeof key === 'string' ? key : Buffer.isBuffer(key) ? key.toString('utf8') : undefined,
  };
}
