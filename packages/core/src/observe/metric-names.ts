/**
 * The names of the metrics a bus records: the OpenTelemetry messaging semantic conventions' and
 * Missive's own (`missive.*`).
 *
 * @example
 * ```ts
 * import { Metric } from '@missive/core';
 * Metric.SentMessages; // 'messaging.client.sent.messages'
 * ```
 * @module
 */

/** Metric names. */
export const Metric = {
  SentMessages: 'messaging.client.sent.messages',
  OperationDuration: 'messaging.client.operation.duration',
  ConsumedMessages: 'messaging.client.consumed.messages',
  ProcessDuration: 'messaging.process.duration',
  Retries: 'missive.retries',
  DeadLetters: 'missive.dead_letters',
  InFlight: 'missive.in_flight',
  QueueDepth: 'missive.queue.depth',
  DeadLetterDepth: 'missive.dead_letter.depth',
  CircuitState: 'missive.circuit.state',
  OutboxLag: 'missive.outbox.relay.lag',
} as const;
