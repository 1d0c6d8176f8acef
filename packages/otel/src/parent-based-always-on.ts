/**
 * The SDK's default sampler, `ParentBased(root: AlwaysOn)`, without checking again what the tracer
 * has just checked. The SDK's tracer validates the parent's trace and span ids (`isSpanContextValid`,
 * 48 hex digits read) and its `ParentBasedSampler` validates them a second time for each span. The
 * decision of `ParentBased(AlwaysOn)` only depends on that validity when the parent is not sampled:
 *
 * | parent in the context | `ParentBased(AlwaysOn)` |
 * |---|---|
 * | none | root: AlwaysOn, recorded and sampled |
 * | sampled flag set (valid or not) | valid: AlwaysOn; invalid: root, AlwaysOn; recorded and sampled either way |
 * | sampled flag clear, valid | AlwaysOff, not recorded |
 * | sampled flag clear, invalid | root: AlwaysOn, recorded and sampled |
 *
 * so this sampler reads the ids only in the last two rows, and gives the same decision in each row
 * (remote and local parents alike: the default's delegates for both are AlwaysOn and AlwaysOff). No
 * attributes and no trace state are added, as with the SDK's.
 *
 * @example
 * ```ts
 * new NodeTracerProvider({ sampler: new ParentBasedAlwaysOnSampler() });
 * ```
 * @module
 */
import { isSpanContextValid, trace, TraceFlags, type Context } from '@opentelemetry/api';
import { SamplingDecision, type Sampler, type SamplingResult } from '@opentelemetry/sdk-trace-base';

const SAMPLED: SamplingResult = Object.freeze({ decision: SamplingDecision.RECORD_AND_SAMPLED });
const DROPPED: SamplingResult = Object.freeze({ decision: SamplingDecision.NOT_RECORD });

/** `ParentBased(root: AlwaysOn)` with the SDK's default delegates, deciding as the SDK's does (see the module's table). */
export class ParentBasedAlwaysOnSampler implements Sampler {
  shouldSample(context: Context): SamplingResult {
    const parent = trace.getSpanContext(context);
    if (parent === undefined || (parent.traceFlags & TraceFlags.SAMPLED) !== 0) return SAMPLED;
    return isSpanContextValid(parent) ? DROPPED : SAMPLED;
  }

  toString(): string {
    return 'ParentBased{root=AlwaysOnSampler, remoteParentSampled=AlwaysOnSampler, remoteParentNotSampled=AlwaysOffSampler, localParentSampled=AlwaysOnSampler, localParentNotSampled=AlwaysOffSampler}';
  }
}
