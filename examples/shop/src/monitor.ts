/**
 * Places the orders through the gateway at the chosen rate and follows them to their end on the
 * bus (order confirmed or cancelled), showing live progress from the services' own counters.
 */
import { randomBytes } from 'node:crypto';
import { consoleLogger, createBus } from '@missive/core';
import { OrderCancelled, OrderConfirmed, ServiceStats } from './contracts.js';
import type { Launched } from './launcher.js';
import { progressLine } from './progress.js';

/** What the monitor needs of the run's options. */
export interface MonitorOptions {
  readonly orders: number;
  readonly rate: number;
  readonly killPaymentAt?: number | undefined;
  readonly timeoutS: number;
  readonly json: boolean;
}

/** The final state of one order as the monitor saw it. */
export interface Final {
  readonly status: 'confirmed' | 'cancelled';
  readonly reason?: string;
  /** Placement to final event, ms. */
  readonly latencyMs: number;
}

/** What the run produced. */
export interface Outcome {
  readonly placed: Map<string, number>;
  readonly final: Map<string, Final>;
  readonly rejected: number;
  /** Why the gateway refused orders: reason → count (an HTTP status with the gateway's error, or a failed request). */
  readonly rejections: ReadonlyMap<string, number>;
  readonly stats: Map<string, { retried: number; redelivered: number; deadLettered: number; handled: number }>;
  readonly timedOut: boolean;
  readonly killed: string | undefined;
  readonly elapsedMs: number;
  /** Orders in flight, once a second while orders were placed (see `saturation.ts`). */
  readonly inFlightSamples: readonly number[];
  /** The trace id of the first order placed (when tracing is on: `--otlp`). */
  readonly sampleTraceId: string | undefined;
}

const SKUS = ['book', 'lamp', 'mug'];

export async function monitor(shop: Launched, options: MonitorOptions): Promise<Outcome> {
  const placed = new Map<string, number>();
  const final = new Map<string, Final>();
  const early = new Map<string, Omit<Final, 'latencyMs'> & { at: number }>();
  const stats: Outcome['stats'] = new Map();
  const endpoint = `shop-monitor-${randomBytes(3).toString('hex')}`;
  const bus = createBus({ service: 'shop-monitor', transport: shop.url, logger: consoleLogger('error') });
  const settle = (orderId: string, status: Final['status'], reason?: string) => {
    const at = Date.now();
    const start = placed.get(orderId);
    if (start === undefined) early.set(orderId, { status, reason, at });
    else if (!final.has(orderId)) final.set(orderId, { status, reason, latencyMs: at - start });
  };
  bus.endpoint(
    endpoint,
    (e) => {
      e.on(OrderConfirmed, (m) => settle(m.orderId, 'confirmed'));
      e.on(OrderCancelled, (m) => settle(m.orderId, 'cancelled', m.reason));
      e.on(ServiceStats, (m) => void stats.set(`${m.service}#${m.instance}`, m));
    },
    { concurrency: 16 },
  );
  await bus.start();

  const started = Date.now();
  let rejected = 0;
  const rejections = new Map<string, number>();
  const refuse = (reason: string) => {
    rejected++;
    rejections.set(reason, (rejections.get(reason) ?? 0) + 1);
  };
  let sampleTraceId: string | undefined;
  let killed: string | undefined;
  const tty = process.stdout.isTTY && !options.json;
  let lastPrint = 0;
  const progress = (force = false) => {
    if (options.json) return;
    const now = Date.now();
    if (!force && !tty && now - lastPrint < 2000) return;
    lastPrint = now;
    let retries = 0;
    let dead = 0;
    for (const s of stats.values()) {
      retries += s.retried + s.redelivered;
      dead += s.deadLettered;
    }
    const confirmed = [...final.values()].filter((f) => f.status === 'confirmed').length;
    const counts = {
      placed: placed.size,
      orders: options.orders,
      confirmed,
      cancelled: final.size - confirmed,
      inFlight: placed.size - final.size,
      retries,
      deadLetters: dead,
      killed,
    };
    // On a terminal: one row that fits its width, rewritten in place (\x1b[K clears what a longer line left).
    process.stdout.write(tty ? `\r${progressLine(counts, process.stdout.columns)}\x1b[K` : `${progressLine(counts, 1000)}\n`);
  };
  const ticker = setInterval(() => progress(), 250);

  const place = async (i: number) => {
    const sku = i % 20 === 7 ? 'limited' : SKUS[i % SKUS.length]!;
    const order = { sku, qty: 1 + (i % 3), amount: Math.round(500 + ((i * 7919) % 19_500)) / 100 };
    const at = Date.now();
    try {
      const res = await fetch(`http://127.0.0.1:${shop.gatewayPort}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(order),
      });
      if (res.status !== 202) {
        const error = await res
          .json()
          .then((b: unknown) => (b as { error?: unknown }).error)
          .catch(() => undefined);
        refuse(`HTTP ${res.status}${typeof error === 'string' ? `: ${error}` : ''}`);
        return;
      }
      const { orderId, traceId } = (await res.json()) as { orderId: string; traceId?: string };
      if (i === 0) sampleTraceId = traceId;
      placed.set(orderId, at);
      const seen = early.get(orderId);
      if (seen !== undefined) final.set(orderId, { status: seen.status, reason: seen.reason, latencyMs: seen.at - at });
    } catch (error) {
      refuse(`request failed: ${(error as Error).message}`);
    }
  };

  const requests: Promise<void>[] = [];
  const inFlightSamples: number[] = [];
  const sampler = setInterval(() => inFlightSamples.push(placed.size - final.size), 1000);
  const interval = 1000 / options.rate;
  for (let i = 0; i < options.orders; i++) {
    const due = started + i * interval;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    requests.push(place(i));
    if (options.killPaymentAt !== undefined && i + 1 === options.killPaymentAt) {
      killed = 'payment#1';
      shop.kill('payment#1');
    }
  }
  await Promise.all(requests);
  clearInterval(sampler);
  inFlightSamples.push(placed.size - final.size);

  const deadline = started + options.timeoutS * 1000;
  await new Promise<void>((resolve) => {
    const check = () => {
      if (final.size >= placed.size || Date.now() > deadline) {
        clearInterval(poll);
        resolve();
      }
    };
    const poll = setInterval(check, 50);
    check();
  });
  await new Promise((resolve) => setTimeout(resolve, 600)); // one more round of service counters
  clearInterval(ticker);
  progress(true);
  if (tty) process.stdout.write('\n');
  await bus.stop();
  // The monitor's queue goes with the run (deleted after its consumer stopped, or that consumer would report it lost).
  const cleanup = createBus({ service: 'shop-monitor', transport: shop.url, logger: consoleLogger('error') });
  await cleanup.start();
  await cleanup.transport.deleteQueue(endpoint).catch(() => undefined);
  await cleanup.stop();
  return {
    placed,
    final,
    rejected,
    rejections,
    stats,
    timedOut: final.size < placed.size,
    killed,
    elapsedMs: Date.now() - started,
    inFlightSamples,
    sampleTraceId,
  };
}
