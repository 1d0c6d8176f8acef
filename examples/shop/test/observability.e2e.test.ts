/**
 * The shop, traced end to end: its services run as separate processes with the OpenTelemetry SDK
 * exporting over OTLP/HTTP to a receiver inside the test. One order is one trace with the expected
 * spans across the gateway, order, inventory and payment services (and on to notification and
 * analytics), every parent present, and payment retries visible as process spans of their own.
 * Each service also serves /readyz and /metrics. On SQLite (nothing to install).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createWaiter } from '@missive/testing';
import type { launch as Launch } from '../src/launcher.js';
import { startOtlpReceiver, type ReceivedSpan } from './otlp-receiver.js';

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const roots: string[] = [];
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

describe('shop observability end to end', () => {
  it('one order is one trace across the services, parents right, retries visible; each service serves /readyz and /metrics', async () => {
    const receiver = await startOtlpReceiver();
    const root = mkdtempSync(join(tmpdir(), 'missive-shop-otel-'));
    roots.push(root);
    const saved = { root: process.env.SHOP_DATA_ROOT, otlp: process.env.SHOP_OTLP_URL };
    process.env.SHOP_DATA_ROOT = root;
    process.env.SHOP_OTLP_URL = receiver.url;
    // The built launcher: it starts the services' built files.
    const { launch } = (await import(join(dist, 'launcher.js'))) as { launch: typeof Launch };
    const shop = await launch({ declineRate: 0, failRate: 0.6, slowMs: 0, stock: 1000, paymentInstances: 1, verbose: false });
    process.env.SHOP_DATA_ROOT = saved.root;
    process.env.SHOP_OTLP_URL = saved.otlp;
    try {
      for (const service of shop.services) {
        expect(service.healthPort, `${service.name} printed its health port`).toBeGreaterThan(0);
        const ready = await fetch(`http://127.0.0.1:${service.healthPort}/readyz`);
        expect(ready.status, `${service.name} /readyz`).toBe(200);
      }

      const traceIds: string[] = [];
      for (let i = 0; i < 6; i++) {
        const res = await fetch(`http://127.0.0.1:${shop.gatewayPort}/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ sku: 'book', qty: 1, amount: 10 + i }),
        });
        expect(res.status).toBe(202);
        const { traceId } = (await res.json()) as { traceId?: string };
        expect(traceId).toMatch(/^[0-9a-f]{32}$/);
        traceIds.push(traceId!);
      }
      const of = (traceId: string) => receiver.spans.filter((s) => s.traceId === traceId);
      const complete = (spans: ReceivedSpan[]) => {
        const ids = new Set(spans.map((s) => s.spanId));
        return (
          spans.some((s) => s.name === 'publish shop.order-confirmed' || s.name === 'publish shop.order-cancelled') &&
          spans.every((s) => s.parentSpanId === undefined || ids.has(s.parentSpanId))
        );
      };
      const waiter = createWaiter({ timeoutMs: 90_000 });
      // A retried payment: process spans of one message with growing attempts, the failed ones marked.
      const retriedTrace = () => traceIds.map(of).find((spans) => spans.filter((s) => s.name === 'process payment').length > 1);
      // The payment service exports its failed attempts' spans on its own schedule: an order's trace can
      // be complete (its parents all exported) before they arrive, so they are waited for too.
      await waiter
        .until(
          () => traceIds.every((t) => complete(of(t))) && retriedTrace() !== undefined,
          'every order trace to end with all its parents exported, and a retried payment',
        )
        .catch((error: unknown) => {
          // Say what was missing: each incomplete trace's spans and the parents it never received.
          const missing = traceIds
            .filter((t) => !complete(of(t)))
            .map((t) => {
              const spans = of(t);
              const ids = new Set(spans.map((s) => s.spanId));
              const orphans = spans.filter((s) => s.parentSpanId !== undefined && !ids.has(s.parentSpanId));
              return `${t}: ${spans.map((s) => `${s.service}:${s.name}`).join(', ')}; without their parent: ${orphans.map((s) => `${s.service}:${s.name}`).join(', ') || 'none'}`;
            });
          const retried = retriedTrace() === undefined ? 'no retried payment seen' : 'a retried payment seen';
          throw new Error(`${(error as Error).message}; ${retried}; incomplete traces: ${missing.join(' | ') || 'none'}`);
        });
      const retried = retriedTrace();
      expect(retried, 'at least one order whose payment was retried').toBeDefined();
      const attempts = retried!.filter((s) => s.name === 'process payment');
      // Every attempt from the first to the last has its own process span. (Delivery is at least once:
      // under load a lease can run out while an attempt runs, and the same attempt is processed again.)
      const numbers = new Set(attempts.map((s) => Number(s.attributes['missive.attempt'])));
      expect([...numbers].sort((a, b) => a - b)).toEqual(Array.from({ length: Math.max(...numbers) }, (_, i) => i + 1));
      expect(numbers.size).toBeGreaterThan(1);
      expect(attempts.filter((s) => s.status === 2).length).toBeGreaterThan(0);
      expect(attempts.every((s) => s.parentSpanId === attempts[0]!.parentSpanId)).toBe(true); // all children of the one send

      // Every service's Prometheus endpoint: what it sent (its counters at least), and for consumers what they handled.
      for (const service of shop.services) {
        const metrics = await (await fetch(`http://127.0.0.1:${service.healthPort}/metrics`)).text();
        expect(metrics, `${service.name} /metrics`).toContain('messaging_client_sent_messages_total{');
        if (service.name !== 'gateway') expect(metrics, `${service.name} /metrics`).toContain('messaging_process_duration_count{');
      }

      const spans = of(traceIds[0]!);
      const services = new Set(spans.map((s) => s.service));
      for (const service of ['gateway', 'order', 'inventory', 'payment']) expect(services, [...services].join(', ')).toContain(service);
      const byId = new Map(spans.map((s) => [s.spanId, s]));
      const one = (name: string, service: string) => {
        const found = spans.filter((s) => s.name === name && s.service === service);
        expect(found.length, `${name} in ${service}: ${spans.map((s) => `${s.service}:${s.name}`).join(', ')}`).toBeGreaterThan(0);
        return found[0]!;
      };
      const http = one('POST /orders', 'gateway');
      expect(http.parentSpanId).toBeUndefined();
      const placed = one('publish shop.order-placed', 'gateway');
      expect(placed.parentSpanId).toBe(http.spanId);
      const saga = spans.find((s) => s.name === 'process order' && s.service === 'order' && s.parentSpanId === placed.spanId);
      expect(saga, 'the saga handles OrderPlaced as a child of its publish').toBeDefined();
      const reserve = one('create inventory.reserve-stock', 'order');
      expect(reserve.parentSpanId).toBe(saga!.spanId);
      const reserved = one('process inventory', 'inventory');
      expect(reserved.parentSpanId).toBe(reserve.spanId);
      const charge = one('process payment', 'payment');
      expect(byId.get(byId.get(charge.parentSpanId!)!.parentSpanId!)?.service).toBe('order'); // send ← create in the saga
      // One trace: every span of the order shares the id, and only the HTTP request has no parent.
      expect(spans.filter((s) => s.parentSpanId === undefined).map((s) => s.name)).toEqual(['POST /orders']);
    } finally {
      await shop.shutdown();
      await receiver.close();
    }
    expect(receiver.metricExports()).toBeGreaterThan(0);
  }, 180_000);
});
