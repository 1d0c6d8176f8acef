import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { DURATION_BUCKETS, DurationCell } from './durations.js';

describe('DurationCell', () => {
  it('counts, sums and buckets durations exactly as the SDK explicit-bucket histogram does (bounds inclusive)', async () => {
    const values = [0, 0.001, 0.005, 0.0050001, 0.01, 0.3, 1, 7.5, 10, 10.5, 42, Number.NaN];
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    const provider = new MeterProvider({ readers: [reader] });
    const histogram = provider
      .getMeter('test')
      .createHistogram('d', { unit: 's', advice: { explicitBucketBoundaries: [...DURATION_BUCKETS] } });
    const cell = new DurationCell(Object.freeze({ q: 'billing' }));
    for (const value of values) {
      histogram.record(value, { q: 'billing' });
      cell.record(value);
    }
    await provider.forceFlush();
    const metric = exporter.getMetrics().at(-1)!.scopeMetrics[0]!.metrics[0]!;
    expect(metric.dataPointType).toBe(DataPointType.HISTOGRAM);
    const sdk = metric.dataPoints[0]!.value as {
      buckets: { boundaries: number[]; counts: number[] };
      sum: number;
      count: number;
      min: number;
      max: number;
    };
    expect(cell.counts).toEqual(sdk.buckets.counts);
    expect(DURATION_BUCKETS).toEqual(sdk.buckets.boundaries);
    expect([cell.count, cell.sum, cell.min, cell.max]).toEqual([sdk.count, sdk.sum, sdk.min, sdk.max]);
    await provider.shutdown();
  });
});
