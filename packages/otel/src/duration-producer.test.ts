import { metrics } from '@opentelemetry/api';
import { AggregationTemporality, InMemoryMetricExporter, type HistogramMetricData } from '@opentelemetry/sdk-metrics';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createBus, defineEvent, INSTRUMENTATION_SCOPE, Metric, MessageDurations, silentLogger } from '@missive/core';
import { startTelemetry } from './telemetry.js';

const OrderPlaced = defineEvent('shop.order-placed', z.object({ orderId: z.string(), fail: z.boolean() }));

const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const telemetry = startTelemetry({ service: 'shop', metricExporter: exporter, prometheus: false });
afterAll(() => telemetry.shutdown());

describe('the duration histograms with startTelemetry', () => {
  it('are kept by the bus (no SDK record per message) and exported with the conventions’ names, attributes and counts', async () => {
    const durations = MessageDurations.claimed(metrics.getMeter(INSTRUMENTATION_SCOPE.name, INSTRUMENTATION_SCOPE.version));
    expect(durations).toBeDefined();
    const bus = createBus({ service: 'shop', transport: 'memory://', logger: silentLogger, retry: { immediate: 1, delayed: false } });
    let handled = 0;
    let allHandled!: () => void;
    const handledThree = new Promise<void>((resolve) => (allHandled = resolve));
    const deadLettered = new Promise<void>((resolve) => bus.on('dead-lettered', () => resolve()));
    bus.endpoint('billing', (e) =>
      e.on(OrderPlaced, (m) => {
        if (m.fail) throw new Error('declined');
        if (++handled === 3) allHandled();
      }),
    );
    await bus.start();
    try {
      for (let i = 0; i < 3; i++) await bus.publish(OrderPlaced, { orderId: `o-${i}`, fail: false });
      await bus.publish(OrderPlaced, { orderId: 'bad', fail: true });
      await Promise.all([handledThree, deadLettered]);
      await telemetry.forceFlush();
    } finally {
      await bus.stop();
    }
    const exported = exporter.getMetrics().at(-1)!;
    const all = exported.scopeMetrics.filter((s) => s.scope.name === INSTRUMENTATION_SCOPE.name).flatMap((s) => s.metrics);
    const histogram = (name: string) => {
      const found = all.filter((m) => m.descriptor.name === name);
      expect(found).toHaveLength(1); // one stream: the SDK has no instrument of that name besides
      return found[0] as HistogramMetricData;
    };
    const processed = histogram(Metric.ProcessDuration);
    expect(processed.descriptor.unit).toBe('s');
    expect(processed.aggregationTemporality).toBe(AggregationTemporality.CUMULATIVE);
    const points = processed.dataPoints.map((p) => [p.attributes, p.value.count, p.value.buckets.counts.reduce((a, b) => a + b, 0)]);
    const endpoint = {
      'messaging.system': 'memory',
      'messaging.destination.name': 'billing',
      'messaging.consumer.group.name': 'billing',
    };
    expect(points).toEqual([
      [endpoint, 3, 3],
      [{ ...endpoint, 'error.type': 'Error' }, 2, 2],
    ]);
    const sent = histogram(Metric.OperationDuration);
    expect(sent.dataPoints.map((p) => [p.attributes, p.value.count])).toEqual([
      [{ 'messaging.system': 'memory', 'messaging.destination.name': 'shop.order-placed', 'messaging.operation.name': 'publish' }, 4],
    ]);
    expect(sent.dataPoints[0]!.value.sum).toBeGreaterThan(0);
  });
});
