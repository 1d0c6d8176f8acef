import { ROOT_CONTEXT, SpanKind, trace, TraceFlags, type Context, type SpanContext } from '@opentelemetry/api';
import { AlwaysOnSampler, ParentBasedSampler, SamplingDecision } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { ParentBasedAlwaysOnSampler } from './parent-based-always-on.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

/** Parents in every row of the sampler's table, remote and local, valid and not. */
function parents(): [string, Context][] {
  const cases: [string, Context][] = [['no parent', ROOT_CONTEXT]];
  const ids: [string, string, string][] = [
    ['valid', TRACE, SPAN],
    ['zero trace id', '0'.repeat(32), SPAN],
    ['zero span id', TRACE, '0'.repeat(16)],
    ['uppercase', TRACE.toUpperCase(), SPAN],
    ['short', TRACE.slice(1), SPAN],
  ];
  for (const [name, traceId, spanId] of ids)
    for (const isRemote of [true, false])
      for (const traceFlags of [TraceFlags.SAMPLED, TraceFlags.NONE, 0x03, 0x02]) {
        const parent: SpanContext = { traceId, spanId, traceFlags, isRemote };
        cases.push([`${name}, ${isRemote ? 'remote' : 'local'}, flags ${traceFlags}`, trace.setSpanContext(ROOT_CONTEXT, parent)]);
      }
  return cases;
}

describe('ParentBasedAlwaysOnSampler', () => {
  it("decides as the SDK's ParentBased(AlwaysOn) for every kind of parent", () => {
    const ours = new ParentBasedAlwaysOnSampler();
    const sdks = new ParentBasedSampler({ root: new AlwaysOnSampler() });
    const cases = parents();
    expect(cases).toHaveLength(41);
    for (const [name, context] of cases) {
      const expected = sdks.shouldSample(context, TRACE, 'process billing', SpanKind.CONSUMER, {}, []);
      const actual = ours.shouldSample(context);
      expect({ name, ...actual }, name).toEqual({ name, ...expected });
    }
  });

  it('records a valid unsampled parent not, and an invalid unsampled one as a root', () => {
    const sampler = new ParentBasedAlwaysOnSampler();
    const unsampled = (traceId: string) =>
      trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId: SPAN, traceFlags: TraceFlags.NONE, isRemote: true });
    expect(sampler.shouldSample(unsampled(TRACE)).decision).toBe(SamplingDecision.NOT_RECORD);
    expect(sampler.shouldSample(unsampled('0'.repeat(32))).decision).toBe(SamplingDecision.RECORD_AND_SAMPLED);
  });
});
