import { AggregationTemporality, InMemoryMetricExporter, type SumMetricData } from '@opentelemetry/sdk-metrics';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createBus, defineEvent, Metric, silentLogger } from '@missive/core';
import { startTelemetry } from './telemetry.js';

const OrderPlaced = defineEvent('shop.order-placed', z.object({ orderId: z.string() }));

const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const telemetry = startTelemetry({ service: 'shop', metricExporter: exporter, prometheus: false });
afterAll(() => telemetry.shutdown());

describe('startTelemetry', () => {
  it('pushes the metrics to a metricExporter given, with the service on the resource', async () => {
    const bus = createBus({ service: 'shop', transport: 'memory://', logger: silentLogger });
    await bus.start();
    await bus.publish(OrderPlaced, { orderId: 'o-1' });
    await bus.publish(OrderPlaced, { orderId: 'o-2' });
    await telemetry.forceFlush();
    await bus.stop();
    const exported = exporter.getMetrics();
    expect(exported.length).toBeGreaterThan(0);
    const last = exported[exported.length - 1]!;
    expect(last.resource.attributes['service.name']).toBe('shop');
    const sent = last.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === Metric.SentMessages) as SumMetricData;
    expect(sent.dataPoints.map((p) => [p.attributes['messaging.destination.name'], p.value])).toEqual([['shop.order-placed', 2]]);
  });
});
