/**
 * The OpenTelemetry SDK set up for a Missive service in one call: a tracer provider (W3C
 * propagation, async-hooks context) exporting spans in batches over OTLP/HTTP, a meter provider
 * exporting over OTLP/HTTP and serving Prometheus text, both named after the service. Missive itself
 * needs no wiring: the bus uses whatever providers are registered globally.
 *
 * Prometheus: the OpenTelemetry Prometheus exporter rather than prom-client, because Missive's
 * metrics are recorded through the OpenTelemetry metrics API; the exporter reads those same
 * instruments, where prom-client would need a second registry and a bridge.
 *
 * @example
 * ```ts
 * const telemetry = startTelemetry({ service: 'payment', otlp: process.env.OTLP_URL });
 * await serveHealth(bus, { port: 9464, metrics: telemetry.metrics }); // /healthz /readyz /metrics
 * // ... at exit
 * await telemetry.shutdown();
 * ```
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { metrics, trace } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  InstrumentType,
  MeterProvider,
  PeriodicExportingMetricReader,
  type MetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, type Sampler, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { ConfigurationError, INSTRUMENTATION_SCOPE, MessageDurations } from '@missive/core';
import { DurationProducer } from './duration-producer.js';
import { otlpMetricExporter, otlpSpanExporter } from './otlp-exporters.js';
import { ParentBasedAlwaysOnSampler } from './parent-based-always-on.js';
import { PooledIdGenerator } from './pooled-id-generator.js';

/** Options of {@link startTelemetry}. */
export interface TelemetryOptions {
  /** The service's name (`service.name` of every span and metric). */
  readonly service: string;
  /** An OTLP/HTTP collector's base URL (`http://127.0.0.1:4318`): traces to `/v1/traces`, metrics to `/v1/metrics`. */
  readonly otlp?: string | URL | undefined;
  /** Spans go here instead of (or, without `otlp`, as well as nowhere else than) the OTLP exporter. */
  readonly spanExporter?: SpanExporter;
  /** Metrics are also pushed here, every `metricIntervalMs` (a test's in-memory exporter, another backend). */
  readonly metricExporter?: PushMetricExporter;
  /** Serve Prometheus text through {@link Telemetry.metrics}. Default true. */
  readonly prometheus?: boolean;
  /** How often metrics are pushed over OTLP and to `metricExporter`, ms. Default 10 000. */
  readonly metricIntervalMs?: number;
  /** Batching of spans: the longest a span waits before it is exported, ms. Default 1000. */
  readonly spanDelayMs?: number;
  /**
   * Which traces are recorded. Default: the SDK's (every trace, or what `OTEL_TRACES_SAMPLER` says);
   * its default, `ParentBased(AlwaysOn)`, as {@link ParentBasedAlwaysOnSampler} (the same decisions, cheaper).
   * Production tracing usually samples: `new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(0.1) })`
   * records a tenth of the traces, and Missive skips the attributes and context of the others
   * (docs/observability.md, "What tracing costs").
   */
  readonly sampler?: Sampler;
}

/** The registered SDK. */
export interface Telemetry {
  /** A node:http handler that answers with the Prometheus text of the service's metrics. */
  readonly metrics: (request: IncomingMessage, response: ServerResponse) => void;
  /** Exports what is buffered now. */
  forceFlush(): Promise<void>;
  /** Exports what is buffered and unregisters the providers. */
  shutdown(): Promise<void>;
}

/** Registers the OpenTelemetry SDK globally for this process. Call before `bus.start()`. */
export function startTelemetry(options: TelemetryOptions): Telemetry {
  if (typeof options?.service !== 'string' || options.service === '')
    throw new ConfigurationError('startTelemetry needs { service }: the service name');
  const base = options.otlp === undefined ? undefined : otlpBase(options.otlp);
  const resource = resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.service });

  const spanExporters: SpanExporter[] = [];
  if (base !== undefined) spanExporters.push(otlpSpanExporter(new URL('v1/traces', base).href));
  if (options.spanExporter !== undefined) spanExporters.push(options.spanExporter);
  let tracerProvider: NodeTracerProvider | undefined;
  if (spanExporters.length > 0) {
    const scheduledDelayMillis = options.spanDelayMs ?? 1000;
    const sampler = options.sampler ?? defaultSampler();
    tracerProvider = new NodeTracerProvider({
      resource,
      idGenerator: new PooledIdGenerator(),
      ...(sampler === undefined ? {} : { sampler }),
      spanProcessors: spanExporters.map((e) => new BatchSpanProcessor(e, { scheduledDelayMillis })),
    });
    tracerProvider.register();
  }

  // The buses' own duration histograms, reported by every reader (see duration-producer.ts).
  const durations = new DurationProducer(resource);
  const metricProducers = [durations];
  const readers: MetricReader[] = [];
  const prometheus = options.prometheus === false ? undefined : new PrometheusExporter({ preventServerStart: true, metricProducers });
  if (prometheus !== undefined) readers.push(prometheus);
  if (base !== undefined) {
    readers.push(
      new PeriodicExportingMetricReader({
        exporter: otlpMetricExporter(new URL('v1/metrics', base).href),
        exportIntervalMillis: options.metricIntervalMs ?? 10_000,
        metricProducers,
      }),
    );
  }
  if (options.metricExporter !== undefined) {
    readers.push(
      new PeriodicExportingMetricReader({
        exporter: options.metricExporter,
        exportIntervalMillis: options.metricIntervalMs ?? 10_000,
        metricProducers,
      }),
    );
  }
  const meterProvider = new MeterProvider({ resource, readers });
  // The bus keeps its duration histograms itself (no attribute hashing per message) when every
  // reader wants them cumulative, as the producer reports them; a delta reader gets the SDK's.
  if (readers.every((r) => r.selectAggregationTemporality(InstrumentType.HISTOGRAM) === AggregationTemporality.CUMULATIVE)) {
    durations.report(MessageDurations.claim(meterProvider.getMeter(INSTRUMENTATION_SCOPE.name, INSTRUMENTATION_SCOPE.version)));
  }
  metrics.setGlobalMeterProvider(meterProvider);

  return {
    metrics(request, response) {
      if (prometheus === undefined) {
        response.writeHead(404, { 'content-type': 'text/plain' });
        response.end('prometheus metrics are off (startTelemetry({ prometheus: false }))\n');
        return;
      }
      prometheus.getMetricsRequestHandler(request, response);
    },
    async forceFlush() {
      await Promise.all([tracerProvider?.forceFlush(), meterProvider.forceFlush()]);
    },
    async shutdown() {
      await Promise.allSettled([tracerProvider?.shutdown(), meterProvider.shutdown()]);
      trace.disable();
      metrics.disable();
    },
  };
}

/**
 * The SDK's default sampler, `ParentBased(AlwaysOn)` (no `OTEL_TRACES_SAMPLER`, or
 * `parentbased_always_on`), as {@link ParentBasedAlwaysOnSampler}; undefined for any other value of
 * the variable, which the SDK reads itself.
 */
function defaultSampler(): ParentBasedAlwaysOnSampler | undefined {
  const configured = process.env['OTEL_TRACES_SAMPLER'];
  if (configured === undefined || configured.trim() === '' || configured === 'parentbased_always_on')
    return new ParentBasedAlwaysOnSampler();
  return undefined;
}

function otlpBase(url: string | URL): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigurationError(
      `otlp must be an http(s) URL of a collector, such as http://127.0.0.1:4318; got ${JSON.stringify(String(url))}`,
    );
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new ConfigurationError(`otlp must be an http(s) URL (OTLP/HTTP), got ${parsed.protocol}`);
  if (!parsed.pathname.endsWith('/')) parsed.pathname += '/';
  return parsed;
}
