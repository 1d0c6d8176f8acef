/**
 * W3C trace context as it travels in the envelope (`traceparent`, `tracestate`: the CloudEvents
 * distributed-tracing extension). Parsing and formatting are done here rather than through a
 * registered propagator, so the context travels whether or not the application set one up.
 *
 * @example
 * ```ts
 * const parent = spanContextOf(envelope.traceparent, envelope.tracestate); // undefined when absent or malformed
 * traceIdOf('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'); // '4bf92f3577b34da6a3ce929d0e0e4736'
 * ```
 * @module
 */
import { createTraceState, INVALID_SPANID, INVALID_TRACEID, type SpanContext } from '@opentelemetry/api';

/** Version, trace id, span id and flags, lower-case hex. One test, no captures: the parts are sliced out. */
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** The remote span context a `traceparent` (and `tracestate`) names, or undefined when absent or malformed. */
export function spanContextOf(traceparent: string | undefined, tracestate?: string): SpanContext | undefined {
  if (traceparent === undefined || traceparent.length !== 55 || !TRACEPARENT.test(traceparent) || traceparent.startsWith('ff'))
    return undefined;
  const traceId = traceparent.slice(3, 35);
  const spanId = traceparent.slice(36, 52);
  // All-zero ids are invalid (W3C trace context); the format is checked above.
  if (traceId === INVALID_TRACEID || spanId === INVALID_SPANID) return undefined;
  return {
    traceId,
    spanId,
    traceFlags: parseInt(traceparent.slice(53, 55), 16) & 1,
    isRemote: true,
    traceState: tracestate === undefined || tracestate === '' ? undefined : createTraceState(tracestate),
  };
}

/**
 * The `traceparent` of a span context, or undefined for an invalid one (no provider, no parent).
 * The ids' lengths are checked, not their digits (a tracer makes them; the receiving side checks
 * the whole `traceparent` and drops a malformed one, see {@link spanContextOf}).
 */
export function traceparentOf(context: SpanContext): string | undefined {
  const { traceId, spanId } = context;
  if (traceId.length !== 32 || spanId.length !== 16 || spanId === INVALID_SPANID || traceId === INVALID_TRACEID) return undefined;
  return `00-${traceId}-${spanId}-${(context.traceFlags & 1) === 1 ? '01' : '00'}`;
}

/** The trace id in a `traceparent`, for log lines; undefined when absent or malformed. */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  if (traceparent === undefined || traceparent.length !== 55) return undefined;
  const id = traceparent.slice(3, 35);
  return /^[0-9a-f]{32}$/.test(id) && id !== '00000000000000000000000000000000' ? id : undefined;
}
