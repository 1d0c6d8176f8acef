/**
 * The SDK's view of the duration histograms the buses keep themselves (`MessageDurations` of
 * @missive/core): a `MetricProducer` that every metric reader of {@link startTelemetry} asks at
 * collection, so the SDK hashes no attribute set per handled or sent message. It reports the same
 * metrics the metrics API's histograms would (`messaging.client.operation.duration`,
 * `messaging.process.duration`: names, unit, buckets, attributes, sums and counts), under the
 * `@missive/core` instrumentation scope, as cumulative totals; so it is only used when every
 * reader wants cumulative histograms (Prometheus and OTLP by default).
 *
 * @example
 * ```ts
 * const producer = new DurationProducer(resource);
 * const reader = new PrometheusExporter({ metricProducers: [producer] });
 * producer.report(MessageDurations.claim(meterProvider.getMeter(INSTRUMENTATION_SCOPE.name, INSTRUMENTATION_SCOPE.version)));
 * ```
 * @module
 */
import { ValueType, type HrTime } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  type CollectionResult,
  type HistogramMetricData,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';
import { DURATION_BUCKETS, INSTRUMENTATION_SCOPE, type MessageDurations } from '@missive/core';

function hrTimeOf(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}

/** Reports the buses' duration histograms of one meter to the readers it is given to. */
export class DurationProducer implements MetricProducer {
  private durations: MessageDurations | undefined;

  /** `resource`: the meter provider's (the reader keeps its own anyway). */
  constructor(private readonly resource: Resource) {}

  /** Starts reporting `durations`; until then the producer reports nothing. */
  report(durations: MessageDurations): void {
    this.durations = durations;
  }

  collect(): Promise<CollectionResult> {
    const metrics: HistogramMetricData[] = [];
    if (this.durations !== undefined) {
      const startTime = hrTimeOf(this.durations.startedAt);
      const endTime = hrTimeOf(Date.now());
      for (const histogram of this.durations.histograms()) {
        const dataPoints: HistogramMetricData['dataPoints'] = [];
        for (const cell of histogram.cells()) {
          dataPoints.push({
            startTime,
            endTime,
            attributes: cell.attributes,
            value: {
              buckets: { boundaries: [...DURATION_BUCKETS], counts: [...cell.counts] },
              sum: cell.sum,
              count: cell.count,
              min: cell.min,
              max: cell.max,
            },
          });
        }
        if (dataPoints.length === 0) continue;
        metrics.push({
          descriptor: { name: histogram.name, description: histogram.description, unit: histogram.unit, valueType: ValueType.DOUBLE },
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.HISTOGRAM,
          dataPoints,
        });
      }
    }
    return Promise.resolve({
      resourceMetrics: {
        resource: this.resource,
        scopeMetrics:
          metrics.length === 0 ? [] : [{ scope: { name: INSTRUMENTATION_SCOPE.name, version: INSTRUMENTATION_SCOPE.version }, metrics }],
      },
      errors: [],
    });
  }
}
