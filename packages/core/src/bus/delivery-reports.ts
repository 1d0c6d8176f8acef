/**
 * What an endpoint reports about a settled delivery, built from its consume state: the `handled`
 * event's fields (to the bus's observers, positionally), the failure record a dead letter carries, and the fault event published for it. Pure
 * builders; the endpoint runtime (`endpoint-runtime.ts`) sends them.
 *
 * @example
 * ```ts
 * reportHandled(state, error, startedAt, bus.service, definition.name, bus.onHandled);
 * ```
 * @module
 */
// The module's binding, not the global: `globalThis.performance` is a lazy accessor, about 150 instructions a read.
import { performance } from 'node:perf_hooks';
import type { ConsumeState } from '../consume/consume-state.js';
import { MissiveError } from '../errors.js';
import type { Envelope } from '../message/envelope.js';
import { Header } from '../message/headers.js';
import type { Fault } from '../observe/fault-events.js';
import type { HandledObserver } from '../observe/handled.js';
import type { DeadLetterFailure } from '../transport/transport.js';
import type { BusInternals } from './bus-core.js';

/** Reports a settled delivery (`error` when it was dead-lettered) to `observer`: what its `handled` event carries. */
export function reportHandled(
  state: ConsumeState,
  error: Error | undefined,
  startedAt: number,
  service: string,
  endpoint: string,
  observer: HandledObserver,
): void {
  const settlement = state.settlement;
  const envelope = state.envelope as Envelope | undefined;
  const message = state.received.message;
  const settledAt = performance.now();
  observer(
    service,
    endpoint,
    envelope,
    envelope?.id ?? message.id,
    envelope?.type ?? message.type,
    state.attempt,
    error !== undefined ? 'dead-lettered' : settlement.kind === 'ack' ? 'handled' : settlement.kind === 'redeliver' ? 'retried' : 'dropped',
    settledAt - startedAt,
    settledAt,
    error ?? (settlement.kind === 'redeliver' ? settlement.error : undefined),
    error !== undefined
      ? error instanceof MissiveError
        ? error.code
        : 'HANDLER_FAILED'
      : settlement.kind === 'drop'
        ? settlement.reason
        : undefined,
    message.headers[Header.ReplayedAt] !== undefined,
  );
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
