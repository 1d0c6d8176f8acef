/**
 * A context that holds one span and nothing else, for the contexts the bus makes per message (the
 * `process` span's parent, the handler's context): what `trace.setSpan(ROOT_CONTEXT, span)` gives,
 * without the API's `BaseContext`, which copies a `Map` and makes three closures for each context
 * derived. It answers `getValue` for the API's span key (`trace.getSpan`, `trace.getSpanContext`, the
 * SDK's tracer and samplers) and `undefined` for any other key, as that context would; `setValue` and
 * `deleteValue` derive an ordinary context from it, so code that adds its own values (baggage, a
 * suppression flag) gets what it would have got.
 *
 * The span key is `Symbol.for('OpenTelemetry Context Key SPAN')`, as every version of the API makes it
 * (`createContextKey` is `Symbol.for`, so that API copies share it). Should the API ever name it
 * otherwise, the check at load below sees it and {@link rootContextWith} falls back to the API.
 *
 * @example
 * ```ts
 * const parent = rootContextWith(trace.wrapSpanContext(remote));
 * const span = tracer.startSpan('process billing', { kind: SpanKind.CONSUMER }, parent);
 * ```
 * @module
 */
import { INVALID_SPAN_CONTEXT, ROOT_CONTEXT, trace, type Context, type Span } from '@opentelemetry/api';

const SPAN_KEY = Symbol.for('OpenTelemetry Context Key SPAN');

class SpanOnlyContext implements Context {
  constructor(private readonly span: Span) {}

  getValue(key: symbol): unknown {
    return key === SPAN_KEY ? this.span : undefined;
  }

  setValue(key: symbol, value: unknown): Context {
    return trace.setSpan(ROOT_CONTEXT, this.span).setValue(key, value);
  }

  deleteValue(key: symbol): Context {
    return trace.setSpan(ROOT_CONTEXT, this.span).deleteValue(key);
  }
}

/** Whether the API finds a span under the key this module assumes (checked once, at load). */
const KEY_AGREES = (() => {
  const span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
  return (
    trace.getSpan(new SpanOnlyContext(span)) === span &&
    trace.getSpan(trace.setSpan(ROOT_CONTEXT, span).deleteValue(SPAN_KEY)) === undefined
  );
})();

/** The root context with `span` set in it: the same values as `trace.setSpan(ROOT_CONTEXT, span)`, one small object. */
export function rootContextWith(span: Span): Context {
  return KEY_AGREES ? new SpanOnlyContext(span) : trace.setSpan(ROOT_CONTEXT, span);
}
