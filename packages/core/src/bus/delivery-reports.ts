/**
 * What an endpoint reports about a settled delivery, built from its consume state: the `handled`
 * event, the failure record a dead letter carries, and the fault event published for it. Pure
 * builders; the endpoint runtime (`endpoint-runtime.ts`) sends them.
 *
 * @example
 * ```ts
 * bus.onHandled(handledEvent(state, error, startedAt, bus.service, definition.name));
 * ```
 * @module
 */
import type { ConsumeState } from '../consume/consume-state.js';
import { MissiveError } from '../errors.js';
import type { Envelope } from '../message/envelope.js';
import { Header } from '../message/headers.js';
import type { Fault } from '../observe/fault-events.js';
import type { HandledEvent } from '../observe/handled.js';
import type { DeadLetterFailure } from '../transport/transport.js';
import type { BusInternals } from './bus-core.js';

/** The `handled` event of a settled delivery (`error` when it was dead-lettered). */
export function handledEvent(
  state: ConsumeState,
  error: Error | undefined,
  startedAt: number,
  service: string,
  endpoint: string,
): HandledEvent {
  const settlement = state.settlement;
  const envelope = state.envelope as Envelope | undefined;
  const message = state.received.message;
  const settledAt = performance.now();
  return {
    service,
    endpoint,
    messageId: envelope?.id ?? message.id,
    type: envelope?.type ?? message.type,
    envelope,
    attempt: state.attempt,
    outcome:
      error !== undefined
        ? 'dead-lettered'
        : settlement.kind === 'ack'
          ? 'handled'
          : settlement.kind === 'redeliver'
            ? 'retried'
            : 'dropped',
    durationMs: settledAt - startedAt,
    settledAt,
    error: error ?? (settlement.kind === 'redeliver' ? settlement.error : undefined),
    reason:
      error !== undefined
        ? error instanceof MissiveError
          ? error.code
          : 'HANDLER_FAILED'
        : settlement.kind === 'drop'
          ? settlement.reason
          : undefined,
    replayed: message.headers[Header.ReplayedAt] !== undefined,
  };
}

/** The failure record of a delivery dead-lettered at `endpoint` for `error`. */
export function deadLetterFailure(
  state: ConsumeState,
  error: Error,
  reason: string,
  endpoint: string,
  bus: Pick<BusInternals, 'service' | 'host' | 'clock'>,
): DeadLetterFailure {
  return {
    reason,
    errorName: error.name,
    errorMessage: error.message,
    stack: error.stack,
    attempts: state.totalAttempts,
    endpoint,
    service: bus.service,
    host: bus.host,
    time: bus.clock.now(),
  };
}

/** The fault event of a delivery dead-lettered at `endpoint` for `error`. */
export function faultOf(
  state: ConsumeState,
  envelope: Envelope | undefined,
  reason: string,
  error: Error,
  endpoint: string,
  bus: Pick<BusInternals, 'service' | 'host' | 'clock'>,
): Fault {
  return {
    message: envelope?.data,
    messageId: state.received.message.id,
    messageType: envelope?.type ?? state.received.message.type,
    reason,
    exception: { name: error.name, message: error.message },
    attempts: state.totalAttempts,
    endpoint,
    service: bus.service,
    host: bus.host,
    failedAt: new Date(bus.clock.now()).toISOString(),
  };
}
