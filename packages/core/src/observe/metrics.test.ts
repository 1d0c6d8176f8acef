import { metrics } from '@opentelemetry/api';
import { MeterProvider, MetricReader, type HistogramMetricData } from '@opentelemetry/sdk-metrics';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createBus } from '../bus/bus.js';
import { systemClock, type Clock } from '../clock.js';
import { defineEvent } from '../contracts/contract.js';
import { silentLogger } from '../logger.js';
import { MemoryMessageStore } from '../workflows/memory-store.js';
import { Metric } from './metrics.js';

const OrderPlaced = defineEvent('shop.order-placed', z.object({ orderId: z.string() }));

/** A reader collected by the test itself. */
class ManualReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

const reader = new ManualReader();
const provider = new MeterProvider({ readers: [reader] });
metrics.setGlobalMeterProvider(provider);
afterAll(() => provider.shutdown());

async function histogram(name: string): Promise<HistogramMetricData | undefined> {
  const { resourceMetrics } = await reader.collect();
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) if (metric.descriptor.name === name) return metric as HistogramMetricData;
  }
  return undefined;
}

describe('metrics', () => {
  it('missive.outbox.relay.lag records the time from the outbox commit to the broker having the message, in seconds', async () => {
    let now = 1_700_000_000_000;
    const clock: Clock = { ...systemClock, now: () => now };
    const bus = createBus({ service: 'shop', transport: 'memory://', clock, logger: silentLogger });
    const outbox = bus.outbox(new MemoryMessageStore());
    let handled!: () => void;
    const delivered = new Promise<void>((resolve) => (handled = resolve));
    bus.endpoint('audit', (e) => e.on(OrderPlaced, () => handled()));
    // Committed while the bus is stopped: the relay sends it when the bus starts, 250 ms later.
    await outbox.transaction((tx) => tx.publish(OrderPlaced, { orderId: 'o-1' }));
    now += 250;
    await bus.start();
    await delivered;
    await bus.stop();
    const lag = await histogram(Metric.OutboxLag);
    expect(lag?.descriptor.unit).toBe('s');
    expect(lag?.dataPoints).toHaveLength(1);
    expect(lag?.dataPoints[0]!.attributes).toEqual({ 'messaging.system': 'memory' });
    expect(lag?.dataPoints[0]!.value).toMatchObject({ count: 1, sum: 0.25, min: 0.25, max: 0.25 });
  });
});
