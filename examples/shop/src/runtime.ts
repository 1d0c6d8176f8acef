/**
 * What every shop service does the same way: read its settings from the environment, create its bus,
 * report its counters, register OpenTelemetry (OTLP export when `SHOP_OTLP_URL` is set), serve
 * `/healthz`, `/readyz` and `/metrics`, print `ready` (with its health port) for the launcher, and
 * stop cleanly on SIGTERM/SIGINT. Every service journals what it handles (payment card numbers
 * redacted) to `journal.db` in the data folder and announces itself to the service catalog, so
 * `npm start -- --dashboard` and `missive dashboard` show the run.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { consoleLogger, createBus, serveHealth, stopOnSignals, type Bus, type BusComponent } from '@missive/core';
import { announce, journal } from '@missive/dashboard';
import { startTelemetry } from '@missive/otel';
import { ServiceStats } from './contracts.js';

/** Settings every service reads. */
export interface ServiceSettings {
  readonly url: string;
  /** Where services keep their own databases. */
  readonly dataDir: string;
  readonly instance: string;
}

/** Reads the settings; the defaults run the shop on the embedded SQLite transport. */
export function settings(): ServiceSettings {
  const dataDir = process.env.SHOP_DATA_DIR ?? join(process.cwd(), '.missive', 'shop');
  mkdirSync(dataDir, { recursive: true });
  return {
    url: process.env.MISSIVE_URL ?? `sqlite://${join(dataDir, 'bus.db')}`,
    dataDir,
    instance: process.env.SHOP_INSTANCE ?? '1',
  };
}

/** Creates the service's bus, with its counters published every half second. */
export function serviceBus(service: string, config: ServiceSettings): Bus {
  const bus = createBus({ service, transport: config.url, logger: consoleLogger('error'), stopTimeoutMs: 5000 });
  let timer: NodeJS.Timeout | undefined;
  const reporter: BusComponent = {
    async start() {
      timer = setInterval(() => {
        const totals = { handled: 0, retried: 0, redelivered: 0, deadLettered: 0 };
        for (const s of Object.values(bus.stats().endpoints)) {
          totals.handled += s.handled;
          totals.retried += s.retried;
          totals.redelivered += s.redelivered;
          totals.deadLettered += s.deadLettered;
        }
        bus.publish(ServiceStats, { service, instance: config.instance, ...totals }).catch(() => undefined);
      }, 500);
    },
    async stop() {
      clearInterval(timer);
    },
  };
  bus.attach(reporter);
  journal(bus, { store: `sqlite://${join(config.dataDir, 'journal.db')}`, payloads: { redact: ['cardNumber'] } });
  announce(bus, { version: '0.1.0' });
  return bus;
}

/**
 * Registers OpenTelemetry, starts the bus and its health server, prints `ready <service> [extra]
 * health=<port>` for the launcher, and stops on signals (spans and metrics flushed on the way out).
 */
export async function run(bus: Bus, service: string, extra = '', onStop?: () => void | Promise<void>): Promise<void> {
  const telemetry = startTelemetry({ service: bus.service, otlp: process.env.SHOP_OTLP_URL, spanDelayMs: 200, metricIntervalMs: 5000 });
  const closing: (() => Promise<void>)[] = [];
  stopOnSignals(bus, {
    onStop: async () => {
      await onStop?.();
      for (const close of closing) await close();
      await telemetry.shutdown(); // exports what is buffered
    },
  });
  await bus.start();
  const health = await serveHealth(bus, { port: Number(process.env.SHOP_HEALTH_PORT ?? 0), metrics: telemetry.metrics });
  closing.push(() => health.close());
  process.stdout.write(`ready ${service}${extra === '' ? '' : ` ${extra}`} health=${health.port}\n`);
}

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A stable number in [0, 1) for a key: the same order gets the same decision on every retry and instance. */
export function fraction(key: string): number {
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
  return (h >>> 0) / 2 ** 32;
}
