import { metrics } from '@opentelemetry/api';
import {
  MeterProvider,
  MetricReader,
  type GaugeMetricData,
  type HistogramMetricData,
  type SumMetricData,
} from '@opentelemetry/sdk-metrics';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createBus } from '../bus/bus.js';
import { systemClock, type Clock } from '../clock.js';
import { defineEvent } from '../contracts/contract.js';
import { silentLogger } from '../logger.js';
import type { QueueInfo } from '../transport/transport.js';
import { MemoryMessageStore } from '../workflows/memory-store.js';
import { BusMetrics, Metric } from './metrics.js';

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

async function collected(name: string): Promise<unknown> {
  const { resourceMetrics } = await reader.collect();
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) if (metric.descriptor.name === name) return metric;
  }
  return undefined;
}
const histogram = async (name: string) => (await collected(name)) as HistogramMetricData | undefined;

/** The data points of a sum metric, as `destination → value` (only those whose attributes match `where`). */
async function sums(name: string, where: Record<string, string> = {}): Promise<Record<string, number>> {
  const metric = (await collected(name)) as SumMetricData | undefined;
  const values: Record<string, number> = {};
  for (const point of metric?.dataPoints ?? []) {
    if (Object.entries(where).some(([k, v]) => point.attributes[k] !== v)) continue;
    values[String(point.attributes['messaging.destination.name'])] = point.value;
  }
  return values;
}

describe('metrics', () => {
  it('the message counters report the exact running totals at every collection, by destination, and keep them after the bus stops', async () => {
    const bus = createBus({ service: 'shop', transport: 'memory://', logger: silentLogger });
    let handled = 0;
    let wake: (() => void) | undefined;
    bus.endpoint('counted', (e) =>
      e.on(OrderPlaced, () => {
        if (++handled === target) wake?.();
      }),
    );
    let target = 0;
    const publish = async (n: number) => {
      target += n;
      const done = new Promise<void>((resolve) => (wake = resolve));
      for (let i = 0; i < n; i++) await bus.publish(OrderPlaced, { orderId: `o-${i}` });
      await done;
    };
    await bus.start();
    await publish(2);
    const publishes = { 'messaging.operation.name': 'publish', 'messaging.system': 'memory' };
    expect((await sums(Metric.SentMessages, publishes))['shop.order-placed']).toBe(2);
    expect((await sums(Metric.ConsumedMessages, { 'messaging.consumer.group.name': 'counted' }))['counted']).toBe(2);
    await publish(3);
    expect((await sums(Metric.SentMessages, publishes))['shop.order-placed']).toBe(5);
    expect((await sums(Metric.ConsumedMessages))['counted']).toBe(5);
    const durations = await histogram(Metric.ProcessDuration);
    expect(durations?.dataPoints.find((p) => p.attributes['messaging.destination.name'] === 'counted')?.value.count).toBe(5);
    await bus.stop();
    expect((await sums(Metric.SentMessages, publishes))['shop.order-placed']).toBe(5);
    expect((await sums(Metric.ConsumedMessages))['counted']).toBe(5);
  });

  it('the counts of two buses of one process that share attributes add up, as a synchronous counter would', async () => {
    const Shipped = defineEvent('shop.order-shipped', z.object({ orderId: z.string() }));
    const buses = [1, 2].map(() => createBus({ service: 'shop', transport: 'memory://', logger: silentLogger }));
    for (const bus of buses) await bus.start();
    await buses[0]!.publish(Shipped, { orderId: 'o-1' });
    await buses[1]!.publish(Shipped, { orderId: 'o-2' });
    await buses[1]!.publish(Shipped, { orderId: 'o-3' });
    expect((await sums(Metric.SentMessages, { 'messaging.system': 'memory' }))['shop.order-shipped']).toBe(3);
    for (const bus of buses) await bus.stop();
  });

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

  it('records an attempt duration only from a start read while recording: none before start, none for a start left unread', async () => {
    const meters = new BusMetrics();
    const sources = { queues: async () => [], endpoints: () => [] };
    const count = async () =>
      ((await histogram(Metric.ProcessDuration))?.dataPoints ?? [])
        .filter((p) => p.attributes['messaging.destination.name'] === 'unread-start')
        .reduce((sum, p) => sum + p.value.count, 0);
    expect(meters.recording).toBe(false);
    meters.processed('unread-start', performance.now(), undefined); // not started: nothing
    meters.start('memory', sources);
    try {
      expect(meters.recording).toBe(true);
      // An attempt that began before metrics recorded (its start not read) would otherwise record the clock's age.
      meters.processed('unread-start', -1, undefined);
      meters.processed('unread-start', -1, new Error('failed'));
      expect(await count()).toBe(0);
      meters.processed('unread-start', performance.now(), undefined);
      expect(await count()).toBe(1);
    } finally {
      meters.stop();
    }
  });

  it('counts a send whose start was not read, and records no duration for it (the clock is read only while recording)', async () => {
    const meters = new BusMetrics();
    meters.start('memory', { queues: async () => [], endpoints: () => [] });
    const durations = async () =>
      ((await histogram(Metric.OperationDuration))?.dataPoints ?? [])
        .filter((p) => p.attributes['messaging.destination.name'] === 'unread-send')
        .reduce((sum, p) => sum + p.value.count, 0);
    const producer = (startedAt: number) =>
      ({
        span: undefined!,
        operation: 'send',
        destination: 'unread-send',
        startedAt,
        traceparent: undefined,
        tracestate: undefined,
      }) as const;
    try {
      meters.sent(producer(-1), undefined);
      meters.sent(producer(-1), undefined);
      meters.sent(producer(-1), new Error('refused'));
      expect(await sums(Metric.SentMessages, { 'error.type': 'Error' })).toEqual({ 'unread-send': 1 });
      const sent = (await collected(Metric.SentMessages)) as SumMetricData;
      const ok = sent.dataPoints.filter(
        (p) => p.attributes['messaging.destination.name'] === 'unread-send' && !('error.type' in p.attributes),
      );
      expect(ok.map((p) => p.value)).toEqual([2]);
      expect(await durations()).toBe(0);
      meters.sent(producer(performance.now()), undefined);
      expect(await durations()).toBe(1);
    } finally {
      meters.stop();
    }
  });

  it('the depth gauges of collections close together come from one queue listing (a listing costs milliseconds on RabbitMQ)', async () => {
    let listings = 0;
    let depth = 3;
    const meters = new BusMetrics();
    meters.start('memory', {
      queues: async () => {
        listings++;
        return [{ name: 'listed', depth: depth++, deadLetters: 1, inFlight: 0, topics: [] } satisfies QueueInfo];
      },
      endpoints: () => [{ name: 'listed', inFlight: 0, circuit: 'closed' }],
    });
    try {
      const depthOf = async () =>
        ((await collected(Metric.QueueDepth)) as GaugeMetricData | undefined)?.dataPoints.find(
          (p) => p.attributes['messaging.destination.name'] === 'listed',
        )?.value;
      expect(await depthOf()).toBe(3);
      expect(await depthOf()).toBe(3);
      expect(await depthOf()).toBe(3);
      expect(listings).toBe(1);
    } finally {
      meters.stop();
    }
  });
});
