/// <reference types="node" preserve="true" />
/**
 * `@missive/core/transport`: the kit for writing a transport package. Applications import
 * `@missive/core`; a transport imports this as well. It holds the transport contract and what every
 * transport otherwise writes again: the delivery buffer, a settle-once `Delivery` base, a buffered
 * consumer, header names, the row → message conversion, topic matching, the URL lookup, the check that refuses
 * an unknown option (`checkKnownKeys`), and the optional command-ownership ability (`CommandOwnership`, see `command-owners.ts`).
 * Each piece's promises are written at the top of its file. A transport is done when it passes the
 * conformance suite in `@missive/testing`.
 *
 * @example
 * ```ts
 * import { BufferedConsumer, SettleOnceDelivery, rowToMessage, type TransportFactory } from '@missive/core/transport';
 *
 * export const createTransport: TransportFactory = (url, { clock, logger }) => new MyTransport(url, clock, logger);
 * ```
 * @module
 */
export type * from './transport.js';
export { DeliveryBuffer } from './delivery-buffer.js';
export { SETTLED, SettleOnceDelivery, type NackOptions, type SettleOwner } from './settle-once-delivery.js';
export { BufferedConsumer } from './buffered-consumer.js';
export { TransportHeader, isTransportHeader } from './transport-headers.js';
export { Header } from '../message/headers.js';
export { rowToMessage, readMessageRow, bytesView, type MessageRow } from './message-row.js';
export { readStoredHeaders } from './stored-headers.js';
export { checkKnownKeys } from '../known-keys.js';
export { checkTopicPattern, isExactTopic, topicMatcher } from './topic-pattern.js';
export {
  checkTransportFactories,
  loadTransport,
  parseTransportUrl,
  schemeAliases,
  transportPackage,
  type TransportFactories,
} from './transport-url.js';
export { Timestamps } from '../message/timestamps.js';
export { BinaryMessage } from './binary-message.js';
export { withHeaders } from './in-process-message.js';
export { readEnvelope } from './read-envelope.js';
export { isAttributeName, structuredJson, type BinaryForm } from '../message/binary-form.js';
export {
  CommandOwnerConflictError,
  type CommandOwnership,
  type CommandOwner,
  type CommandClaim,
  type CommandClaimResult,
} from './command-owners.js';
