import { createContextKey, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { rootContextWith } from './span-only-context.js';

const remote = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.SAMPLED, isRemote: true };
const OTHER = createContextKey('test other key');

describe('rootContextWith', () => {
  it('holds the span as trace.setSpan(ROOT_CONTEXT, span) does, without a BaseContext', () => {
    const span = trace.wrapSpanContext(remote);
    const own = rootContextWith(span);
    expect(own.constructor).not.toBe(ROOT_CONTEXT.constructor);
    expect(trace.getSpan(own)).toBe(span);
    expect(trace.getSpanContext(own)).toBe(remote);
    expect(own.getValue(OTHER)).toBeUndefined();
  });

  it('derives ordinary contexts that keep the span', () => {
    const span = trace.wrapSpanContext(remote);
    const own = rootContextWith(span);
    const derived = own.setValue(OTHER, 42);
    expect([trace.getSpan(derived), derived.getValue(OTHER)]).toEqual([span, 42]);
    expect(own.getValue(OTHER)).toBeUndefined();
    expect(trace.getSpan(trace.deleteSpan(own))).toBeUndefined();
    expect(trace.getSpan(own.deleteValue(OTHER))).toBe(span);
  });
});
