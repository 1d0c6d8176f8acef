/**
 * What one duration measurement costs: the OpenTelemetry SDK's `histogram.record(value, attributes)`
 * (a frozen three-key attribute set, as the bus passes) against the bus keeping the histogram itself
 * (`MessageDurations` of @missive/core: one `Map` lookup and a bucket search), in one process,
 * alternating, CPU time per record. A message traced and measured by the SDK records two.
 *
 * ```sh
 * node bench/dist/profile/telemetry-histogram.js [--rounds 5] [--count 200000]
 * ```
 * @module
 */
import os from 'node:os';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { DURATION_BUCKETS, MessageDurations } from '@missive/core';

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1]! : fallback;
}

const rounds = Number(option('rounds', '5'));
const count = Number(option('count', '200000'));
const reader = new PeriodicExportingMetricReader({
  exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
  exportIntervalMillis: 3_600_000,
});
const provider = new MeterProvider({ readers: [reader] });
const sdkMeter = provider.getMeter('bench.sdk');
const histogram = sdkMeter.createHistogram('bench.duration', { unit: 's', advice: { explicitBucketBoundaries: [...DURATION_BUCKETS] } });
const processed = MessageDurations.claim(provider.getMeter('bench.bus')).of('memory').processed;
const attributes = Object.freeze({
  'messaging.system': 'memory',
  'messaging.destination.name': 'billing',
  'messaging.consumer.group.name': 'billing',
});

const modes: [string, () => void][] = [
  [
    'SDK histogram.record',
    () => {
      for (let i = 0; i < count; i++) histogram.record((i % 100) / 10_000, attributes);
    },
  ],
  [
    'bus-kept cell',
    () => {
      for (let i = 0; i < count; i++) (processed.get('billing') ?? processed.add('billing', attributes)).record((i % 100) / 10_000);
    },
  ],
];
const results = new Map<string, number[]>(modes.map(([name]) => [name, []]));
for (let round = 0; round < rounds; round++) {
  for (const [name, run] of round % 2 === 0 ? modes : [...modes].reverse()) {
    const before = process.cpuUsage();
    run();
    const used = process.cpuUsage(before);
    results.get(name)!.push(((used.user + used.system) * 1000) / count);
  }
}
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
for (const [name, values] of results) {
  console.log(`${name}: ${median(values).toFixed(0)} ns per record (${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)})`);
}
console.log(
  `${new Date().toISOString()}, load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
