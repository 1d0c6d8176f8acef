import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createBus, defineEvent, serveHealth, silentLogger } from '@missive/core';
import { startTelemetry } from './telemetry.js';

const OrderPlaced = defineEvent('shop.order-placed', z.object({ orderId: z.string(), fail: z.boolean() }));

/** Prometheus text → samples: `name{labels} value`. */
function parse(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (match === null) throw new Error(`not a Prometheus sample: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

const telemetry = startTelemetry({ service: 'shop' });
afterAll(() => telemetry.shutdown());

describe('Prometheus metrics', () => {
  it('GET /metrics serves the messaging metrics: sent, consumed, durations, retries, dead letters by reason, queue and dead-letter depth', async () => {
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
    const server = await serveHealth(bus, { metrics: telemetry.metrics });
    try {
      for (let i = 0; i < 3; i++) await bus.publish(OrderPlaced, { orderId: `o-${i}`, fail: false });
      await bus.publish(OrderPlaced, { orderId: 'bad', fail: true });
      await Promise.all([handledThree, deadLettered]);
      const response = await fetch(new URL('metrics', server.url));
      expect(response.status).toBe(200);
      const samples = parse(await response.text());
      const value = (name: string, labels: Record<string, string> = {}) =>
        samples
          .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
          .reduce((sum, s) => sum + s.value, 0);
      expect(
        value('messaging_client_sent_messages_total', {
          messaging_system: 'memory',
          messaging_destination_name: 'shop.order-placed',
          messaging_operation_name: 'publish',
        }),
      ).toBe(4);
      expect(value('messaging_client_consumed_messages_total', { messaging_consumer_group_name: 'billing' })).toBe(4);
      expect(value('messaging_process_duration_count', { messaging_destination_name: 'billing' })).toBe(5); // 3 + the failing one twice
      expect(value('messaging_process_duration_count', { error_type: 'Error' })).toBe(2);
      expect(value('messaging_client_operation_duration_count', { messaging_operation_name: 'publish' })).toBe(4);
      expect(value('missive_retries_total', { missive_retry_mode: 'immediate' })).toBe(1);
      expect(value('missive_dead_letters_total', { missive_dead_letter_reason: 'HANDLER_FAILED' })).toBe(1);
      expect(samples.find((s) => s.name === 'missive_dead_letter_depth' && s.labels.messaging_destination_name === 'billing')?.value).toBe(
        1,
      );
      expect(samples.find((s) => s.name === 'missive_queue_depth' && s.labels.messaging_destination_name === 'billing')?.value).toBe(0);
      expect(samples.find((s) => s.name === 'missive_circuit_state')?.value).toBe(0);
      expect(samples.find((s) => s.name === 'missive_in_flight')?.value).toBe(0);
      expect(samples.find((s) => s.name === 'target_info')?.labels.service_name).toBe('shop');
    } finally {
      await server.close();
      await bus.stop();
    }
  });
});
