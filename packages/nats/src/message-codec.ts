/**
 * A `TransportMessage` as a NATS message: the body is the payload as it is; id, type, partition key
 * and the delivery headers travel in NATS headers. The id is `Nats-Msg-Id`, so JetStream's duplicate
 * window drops a publish that is retried after a lost PubAck; copies that must be stored again
 * (dead letters, replays, forwarded schedules) carry their own `Nats-Msg-Id` and the id in `Missive-Id`.
 *
 * @example
 * ```ts
 * nc.publish(subject, message.body, { headers: encodeHeaders(message) });
 * const back = decodeMessage(msg.data, msg.headers);
 * ```
 * @module
 */
import { headers as natsHeaders, type MsgHdrs } from 'nats';
import type { TransportMessage } from '@missive/core';

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
export function encodeHeaders(message: TransportMessage, dedupId?: string, headers: Readonly<Record<string, string>> = message.headers): MsgHdrs {
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

/** The message in a NATS message. */
export function decodeMessage(data: Uint8Array, h: MsgHdrs | undefined): TransportMessage {
  const id = h?.get(NatsHeader.Id) || h?.get(NatsHeader.MsgId) || '';
  const key = h?.get(NatsHeader.Key);
  const json = h?.get(NatsHeader.Headers);
  let headers = NO_HEADERS;
  if (json) {
    try {
      headers = JSON.parse(json) as Record<string, string>;
    } catch {
      headers = NO_HEADERS; // a foreign writer: the body is still delivered (and dead-lettered by the bus if unreadable)
    }
  }
  return { id, type: h?.get(NatsHeader.Type) ?? '', body: data, headers, partitionKey: key ? decodeURIComponent(key) : undefined };
}
