/**
 * The OTLP/HTTP exporters, loaded when the first one is made rather than when `@missive/otel` is
 * imported: their modules (the OTLP transformer and its serializers) are about a quarter of the
 * CPU the package's import took (45–70 ms of 200–250 ms measured), and a service that registers
 * the SDK for Prometheus alone never uses them. Each exporter here is a stand-in that loads the
 * real one and hands it everything: what is exported before it has loaded waits for it, and a
 * module that cannot load fails those exports (the SDK logs them) instead of failing start-up.
 *
 * @example
 * ```ts
 * const exporter = otlpSpanExporter('http://127.0.0.1:4318/v1/traces');
 * new BatchSpanProcessor(exporter);
 * ```
 * @module
 */
import type { PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';

type ExportResult = Parameters<Parameters<SpanExporter['export']>[1]>[0];
/** `ExportResultCode.FAILED` of `@opentelemetry/core`. */
const FAILED = 1 as ExportResult['code'];

function failed(error: unknown): ExportResult {
  return { code: FAILED, error: error instanceof Error ? error : new Error(String(error)) };
}

/** An OTLP/HTTP span exporter to `url` (the full `/v1/traces` URL). */
export function otlpSpanExporter(url: string): SpanExporter {
  const loaded = import('@opentelemetry/exporter-trace-otlp-http').then((m) => new m.OTLPTraceExporter({ url }));
  loaded.catch(() => undefined); // reported by each export
  return {
    export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
      loaded.then(
        (exporter) => exporter.export(spans, done),
        (error: unknown) => done(failed(error)),
      );
    },
    async shutdown() {
      await (await loaded).shutdown();
    },
    async forceFlush() {
      await (await loaded).forceFlush();
    },
  };
}

/** An OTLP/HTTP metric exporter to `url` (the full `/v1/metrics` URL), cumulative as the real one's default. */
export function otlpMetricExporter(url: string): PushMetricExporter {
  const loaded = import('@opentelemetry/exporter-metrics-otlp-http').then((m) => new m.OTLPMetricExporter({ url }));
  loaded.catch(() => undefined);
  return {
    export(batch: ResourceMetrics, done: (result: ExportResult) => void): void {
      loaded.then(
        (exporter) => exporter.export(batch, done),
        (error: unknown) => done(failed(error)),
      );
    },
    async forceFlush() {
      await (await loaded).forceFlush();
    },
    async shutdown() {
      await (await loaded).shutdown();
    },
  };
}
