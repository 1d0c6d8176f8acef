/**
 * What every shop service does the same way: read its settings from the environment, create its bus,
 * report its counters, print `ready` for the launcher, and stop cleanly on SIGTERM/SIGINT.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { consoleLogger, createBus, stopOnSignals, type Bus, type BusComponent } from '@missive/core';
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
  return bus;
}

/** Starts the bus, prints `ready <service>` (and extra words) for the launcher, and stops on signals. */
export async function run(bus: Bus, service: string, extra = '', onStop?: () => void | Promise<void>): Promise<void> {
  stopOnSignals(bus, onStop === undefined ? {} : { onStop });
  await bus.start();
  process.stdout.write(`ready ${service}${extra === '' ? '' : ` ${extra}`}\n`);
}

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A stable number in [0, 1) for a key: the same order gets the same decision on every retry and instance. */
export function fraction(key: string): number {
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
  return (h >>> 0) / 2 ** 32;
}
