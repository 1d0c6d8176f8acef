import { isValidSpanId, isValidTraceId, ROOT_CONTEXT, trace, TraceFlags, type Context } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { startTelemetry, type Telemetry } from './telemetry.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const parentWith = (traceFlags: number): Context =>
  trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE, spanId: '00f067aa0ba902b7', traceFlags, isRemote: true });

let telemetry: Telemetry | undefined;
afterEach(async () => {
  await telemetry?.shutdown();
  delete process.env['OTEL_TRACES_SAMPLER'];
});

describe('startTelemetry, traces', () => {
  it('samples as ParentBased(AlwaysOn) by default, with W3C ids', async () => {
    const exporter = new InMemorySpanExporter();
    telemetry = startTelemetry({ service: 'shop', spanExporter: exporter, prometheus: false });
    const tracer = trace.getTracer('test');
    const root = tracer.startSpan('root');
    const child = tracer.startSpan('child', {}, parentWith(TraceFlags.SAMPLED));
    const dropped = tracer.startSpan('dropped', {}, parentWith(TraceFlags.NONE));
    expect([root.isRecording(), child.isRecording(), dropped.isRecording()]).toEqual([true, true, false]);
    expect(child.spanContext().traceId).toBe(TRACE);
    expect(dropped.spanContext().traceId).toBe(TRACE);
    for (const span of [root, child, dropped]) span.end();
    await telemetry.forceFlush();
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name)).toEqual(['root', 'child']);
    for (const { traceId, spanId } of spans.map((s) => s.spanContext()))
      expect(isValidTraceId(traceId) && isValidSpanId(spanId)).toBe(true);
  });

  it('leaves any other OTEL_TRACES_SAMPLER to the SDK', async () => {
    process.env['OTEL_TRACES_SAMPLER'] = 'always_on';
    telemetry = startTelemetry({ service: 'shop', spanExporter: new InMemorySpanExporter(), prometheus: false });
    expect(trace.getTracer('test').startSpan('kept', {}, parentWith(TraceFlags.NONE)).isRecording()).toBe(true);
  });
});
