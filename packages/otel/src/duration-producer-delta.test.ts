import { metrics } from '@opentelemetry/api';
import { AggregationTemporality, InMemoryMetricExporter, type HistogramMetricData } from '@opentelemetry/sdk-metrics';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createBus, defineEvent, INSTRUMENTATION_SCOPE, Metric, MessageDurations, silentLogger } from '@missive/core';
import { startTelemetry } from './telemetry.js';

const OrderPlaced = defineEvent('shop.order-placed', z.object({ orderId: z.string() }));

const exporter = new InMemoryMetricExporter(AggregationTemporality.DELTA);
const telemetry = startTelemetry({ service: 'shop', metricExporter: exporter, prometheus: false });
afterAll(() => telemetry.shutdown());

describe('the duration histograms with a reader that wants deltas', () => {
  it('are recorded through the SDK as before (the bus reports cumulative totals only)', async () => {
    expect(MessageDurations.claimed(metrics.getMeter(INSTRUMENTATION_SCOPE.name, INSTRUMENTATION_SCOPE.version))).toBeUndefined();
    const bus = createBus({ service: 'shop', transport: 'memory://', logger: silentLogger });
    await bus.start();
    try {
      await bus.publish(OrderPlaced, { orderId: 'o-1' });
      await bus.publish(OrderPlaced, { orderId: 'o-2' });
      await telemetry.forceFlush();
    } finally {
      await bus.stop();
    }
    const sent = exporter
      .getMetrics()
      .flatMap((r) => r.scopeMetrics)
      .flatMap((s) => s.metrics)
      .filter((m) => m.descriptor.name === Metric.OperationDuration) as HistogramMetricData[];
    expect(sent.every((m) => m.aggregationTemporality === AggregationTemporality.DELTA)).toBe(true);
    expect(sent.flatMap((m) => m.dataPoints).reduce((n, p) => n + p.value.count, 0)).toBe(2);
  });
});
